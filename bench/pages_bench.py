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
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "radqa", "--data-dir", str(data_dir), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        up = time.perf_counter() - started
        timings = measure_pages(base)
        memory = _rss_mb(server.pid)  # `radqa serve` execs into the Streamlit server
    finally:
        server.terminate()
        server.wait(timeout=30)
    return up, timings, memory


def _table(up: float, timings: dict, memory: float) -> list[str]:
    first = timings["pages"]["Overview"]["first"]
    lines = [
        f"Server up (health check answers) {up:.2f} s after `radqa serve`; cold start to first "
        f"rendered page = that + the Overview's first render ({up + first:.2f} s; target "
        f"< 2.5 s). Server peak memory {memory:,.0f} MB (target < 1.5 GB).",
        "",
        "| page | first render s (open its URL) | from cache s (sidebar navigation) | "
        "from cache s (full reload of the URL) |",
        "|---|---:|---:|---:|",
    ]
    for title, t in timings["pages"].items():
        lines.append(f"| {title} | {t['first']:.2f} | {t['cached']:.2f} | {t['reload']:.2f} |")
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
            f"cached {fc['cached']:.2f} s (target < 0.3 s).",
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
    ]
