"""Dashboard page timings in the real browser (Debian Chromium) on the bench database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total / 1024


def _serve_and_measure(data_dir: Path) -> tuple[float, dict, float]:
    """Start `radqa serve`, time every page in the browser; (server up s, timings, peak MB)."""
    from dashboard.bench import measure_pages

    port = _free_port()
    server, up = _start(_serve_cmd(data_dir, port), port, {**os.environ})
    try:
        base = f"http://127.0.0.1:{port}"
        timings = measure_pages(base)
        memory = _rss_mb(server.pid)  # `radqa serve` execs into the Streamlit server
    finally:
        server.terminate()
        server.wait(timeout=30)
    return up, timings, memory


def _serve_cmd(data_dir: Path, port: int) -> list[str]:
    """`radqa serve` on the bench database."""
    return [
        sys.executable,
        "-m",
        "radqa",
        "--data-dir",
        str(data_dir),
        "serve",
        "--port",
        str(port),
    ]


def _start(cmd: list[str], port: int, env: dict[str, str]) -> tuple[subprocess.Popen, float]:
    """Start a server; (process, seconds until its health check answers)."""
    started = time.perf_counter()
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(6000):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.01)
    return server, time.perf_counter() - started


def _cold_starts(cmd: list[str], port: int, env: dict[str, str], runs: int = 3) -> dict:
    """Seconds from starting the server to its first rendered page, ``runs`` times each: in a
    browser that never saw the server (empty cache), and in one that did (a returning user:
    Streamlit's scripts come from the browser's cache, where they are kept for a year)."""
    import tempfile

    from dashboard.bench import browser_page, goto

    out: dict[str, list[float]] = {"first_visit": [], "returning": []}
    with tempfile.TemporaryDirectory() as profile:
        for kind in ("first_visit", "returning"):
            if kind == "returning":  # one visit fills the profile's cache
                server, _ = _start(cmd, port, env)
                with browser_page(profile=profile) as page:
                    goto(page, f"http://127.0.0.1:{port}", "")
                server.terminate()
                server.wait(timeout=30)
            for _ in range(runs):
                with browser_page(profile=profile if kind == "returning" else None) as page:
                    page.goto("about:blank")
                    server, up = _start(cmd, port, env)
                    try:
                        first = goto(page, f"http://127.0.0.1:{port}", "")
                    finally:
                        server.terminate()
                        server.wait(timeout=30)
                out[kind].append(round(up + first, 2))
    return out


def cold_start_lines(data_dir: Path) -> list[str]:
    """The cold start of `radqa serve` and of the bare page, side by side."""
    import statistics

    from radqa import store

    port = _free_port()
    env = {**os.environ, "BARE_DB": str(store.snapshot_path(data_dir))}
    ours = _cold_starts(_serve_cmd(data_dir, port), port, env)
    bare = _cold_starts(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(Path(__file__).with_name("bare_app.py")),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],  # fmt: skip
        port,
        env,
    )

    def row(name: str, t: dict) -> str:
        return (
            f"| {name} | {statistics.median(t['first_visit']):.2f} "
            f"({', '.join(map(str, t['first_visit']))}) | {statistics.median(t['returning']):.2f} "
            f"({', '.join(map(str, t['returning']))}) |"
        )

    return [
        "Cold start: seconds from starting the server to the first rendered page (health check "
        "answering + the page rendered), median (runs). A first visit's browser has an empty "
        "cache; a returning user's browser has Streamlit's scripts cached from an earlier visit. "
        "The bare page (`bench/bare_app.py`) is the issue's yardstick: one grouped DuckDB query "
        "over the snapshot's predictions, no RadQA code. Target < 2.5 s.",
        "",
        "| server | first visit s | returning browser s |",
        "|---|---:|---:|",
        row("`radqa serve`, Overview (after the warm-up)", ours),
        row("bare Streamlit page", bare),
    ]


def _table(up: float, timings: dict, memory: float) -> list[str]:
    first = timings["pages"]["Overview"]["first"]
    lines = [
        f"Server up (health check answers) {up:.2f} s after `radqa serve`; cold start to first "
        f"rendered page = that + the Overview's first render ({up + first:.2f} s; target "
        f"< 2.5 s). Server peak memory {memory:,.0f} MB (target < 1.5 GB).",
        "",
        "| page | first render s (open its URL) | from cache, sidebar: first visit s | "
        "from cache, sidebar: median of the next 3 s (target < 0.3 s) | "
        "from cache, full reload of the URL s |",
        "|---|---:|---:|---:|---:|",
    ]
    for title, t in timings["pages"].items():
        lines.append(
            f"| {title} | {t['first']:.2f} | {t['cached_first']:.2f} | {t['cached']:.2f} | "
            f"{t['reload']:.2f} |"
        )
    lines += [
        "",
        "Lazy tabs (a page draws its first tab; each other tab is a rerun that draws only its "
        "section): seconds to open each tab the first time, then again from the cache.",
        "",
        "| page | tab | first open s | from cache s |",
        "|---|---|---:|---:|",
    ]
    for title, t in timings["pages"].items():
        for label, (first_open, again) in t.get("tabs", {}).items():
            lines.append(f"| {title} | {label} | {first_open:.2f} | {again:.2f} |")
    fc = timings.get("filter_change")
    if fc:
        lines += [
            "",
            f"Filter change (site): uncached {fc['uncached']:.2f} s (target < 1 s), "
            f"cached (median of 3) {fc['cached']:.2f} s (target < 0.3 s).",
        ]
    return lines


def run(data_dir: Path) -> list[str]:
    """Twice: with no result cached anywhere, then after the warm-up ingest runs on publish."""
    import shutil

    from bench._measure import measure

    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    cold = _serve_and_measure(data_dir)
    shutil.rmtree(data_dir / "cache", ignore_errors=True)
    warm = measure(
        f"calls = warm(Path({str(data_dir)!r}))\n_result = dict(calls=calls)",
        setup="from pathlib import Path\nfrom dashboard.warmup import warm\n",
    )
    warmed = _serve_and_measure(data_dir)
    return [
        "## Dashboard (real browser: Debian Chromium via Playwright)",
        "",
        "### Nothing cached: a snapshot no process has computed anything on",
        "",
        *_table(*cold),
        "",
        "### After the post-publish warm-up (what `radqa ingest` / `demo` / `publish` leave)",
        "",
        f"The warm-up (`dashboard/warmup.py`: filter options, the Overview's summary, trend and "
        f"claims; {warm.extra['calls']} calls) took {warm.seconds:.1f} s, peak "
        f"{warm.peak_mb:,.0f} MB, in the publishing process.",
        "",
        *_table(*warmed),
        "",
        *cold_start_lines(data_dir),
    ]
