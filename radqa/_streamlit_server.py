"""The Streamlit server process of ``radqa serve``, which loads the dashboard's imports early.

``radqa serve`` execs ``python -m radqa._streamlit_server run dashboard/app.py ...``, which is
``python -m streamlit run ...`` plus one background thread: once the server listens, the thread
imports what the first page needs (pandas, plotly, the metrics package, the dashboard modules),
while the browser is still loading the page. The first page then does not wait for about a
second of imports. The thread waits for the port first so that it does not slow the server's
start; an import that fails here fails again, with its traceback, where the page imports it.
A few seconds after the first page has been drawn (:mod:`radqa._first_page`), the thread also
imports what :mod:`metrics` loads lazily (SciPy, statsmodels), so that the first computation
does not wait for it either.
"""

from __future__ import annotations

import importlib
import socket
import sys
import threading
import time

#: What every page imports, heaviest first.
PRELOAD = (
    "pandas",
    "metrics",
    "plotly.graph_objects",
    "dashboard._state",
    "dashboard._charts",
    "dashboard._filters",
    "dashboard._alerts",
    "dashboard._context",
    "dashboard.auth",
    "dashboard._tiles",
)


def _option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv[:-1] else default


def _preload(
    host: str, port: int, *, wait_s: float = 60.0, idle_s: float = 30.0, settle_s: float = 3.0
) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:  # until the server listens
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.02)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (the page that imports it reports it)
            return
    from radqa._first_page import DRAWN

    DRAWN.wait(idle_s)  # no page within idle_s: nobody is waiting, import now
    # let the server send the first page first: these imports hold the interpreter for about
    # 1 s, and the server thread that writes the page to the browser needs it too
    time.sleep(settle_s)
    try:
        from dashboard._heap import freeze_imports
        from metrics._lazy import load_deferred

        load_deferred()
        freeze_imports()  # now, rather than at the start of the next rerun
    except Exception:  # noqa: BLE001 (the computation that needs it reports it)
        return


def main() -> None:
    argv = sys.argv[1:]
    host = _option(argv, "--server.address", "127.0.0.1")
    port = int(_option(argv, "--server.port", "8501"))
    threading.Thread(target=_preload, args=(host, port), name="radqa-preload", daemon=True).start()
    from streamlit.web import cli

    sys.argv[0] = "streamlit"
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
