"""Run one measurement in a fresh Python process and read back its time and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import dataclass

PRELUDE = """
import json, resource, sys, time
_t0 = time.perf_counter()
def _done(**extra):
    print("__BENCH__" + json.dumps({
        "seconds": time.perf_counter() - _t0,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **extra}))
"""


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_mb: float
    extra: dict[str, object]


def measure(code: str, *, setup: str = "", timeout: float = 1800) -> Measurement:
    """Time ``code`` (after ``setup``, which is not timed) in a fresh interpreter."""
    script = (
        textwrap.dedent(setup)
        + PRELUDE
        + textwrap.dedent(code)
        + "\nif '_result' not in dir(): _result = {}\n_done(**_result)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if "__BENCH__" in x)
    data = json.loads(line.split("__BENCH__", 1)[1])
    return Measurement(data.pop("seconds"), data.pop("peak_mb"), data)
