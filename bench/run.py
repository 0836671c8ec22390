"""`make bench`: every speed and memory figure the issues ask for, into bench/results.md.

Each step runs in a fresh Python process so that its time and peak memory are its own.
Set RADQA_BENCH_SIZES=1000000 for a quick run (default: 1M and 10M rows).
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench import ingest_bench

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"


def main() -> None:
    sizes = tuple(
        int(s) for s in os.environ.get("RADQA_BENCH_SIZES", "1000000,10000000").split(",")
    )
    lines = [
        "# RadQA benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}. "
        "Each figure is one run in a fresh process; peak MB is that process's max RSS.",
        "",
    ]
    sections = [("ingest", lambda: ingest_bench.run(OUT, sizes))]
    for name, step in sections:
        print(f"bench: {name} ...", flush=True)
        section = step()
        lines += [*section, ""]
        (ROOT / "results.md").write_text("\n".join(lines) + "\n")
        print("\n".join(section), flush=True)
    print(f"bench: wrote {ROOT / 'results.md'}")


if __name__ == "__main__":
    main()
