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


def run(data_dir: Path) -> list[str]:
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
    lines = [
        "## Dashboard (real browser: Debian Chromium via Playwright)",
        "",
        f"Server up (health check answers) {up:.2f} s after `radqa serve`; cold start to first "
        f"rendered page = that + the Overview's first render "
        f"({up + timings['pages']['Overview']['first']:.2f} s; target < 2.5 s). "
        f"Server peak memory {memory:,.0f} MB (target < 1.5 GB).",
        "",
        "| page | first render s | from cache s |",
        "|---|---:|---:|",
    ]
    for title, t in timings["pages"].items():
        lines.append(f"| {title} | {t['first']:.2f} | {t['cached']:.2f} |")
    fc = timings.get("filter_change")
    if fc:
        lines += [
            "",
            f"Filter change (site): uncached {fc['uncached']:.2f} s (target < 1 s), "
            f"cached {fc['cached']:.2f} s (target < 0.3 s).",
        ]
    return lines
