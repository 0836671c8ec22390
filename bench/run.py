"""`make bench`: every speed and memory figure the issues ask for, into bench/results.md.

Each step runs in a fresh Python process so that its time and peak memory are its own.
Set RADQA_BENCH_SIZES=1000000 for a quick run (default: 1M and 10M rows).
"""

from __future__ import annotations

import os
import platform
import shutil
from datetime import UTC, datetime
from pathlib import Path

from bench import ingest_bench, metrics_bench, pages_bench, report_bench

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"


DEMO_STUDIES = int(os.environ.get("RADQA_BENCH_STUDIES", "3450000"))  # about 10M predictions


def build_demo(data_dir: Path) -> list[str]:
    """The demo at about 10M predictions (built once, reused by later runs)."""
    from bench._measure import measure

    if not (data_dir / "radqa.duckdb").exists():
        m = measure(
            f"run_demo(Path({str(data_dir)!r}), studies={DEMO_STUDIES})",
            setup="from pathlib import Path\nfrom radqa.demo import run_demo\n",
        )
        built = f"built in {m.seconds:.0f} s (generate + ingest), peak {m.peak_mb:,.0f} MB"
    else:
        built = "reused from an earlier run"
    import duckdb

    con = duckdb.connect(str(data_dir / "radqa.duckdb"), read_only=True)
    n = {t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
         for t in ("studies", "predictions", "reads")}  # fmt: skip
    con.close()
    cases = measure(
        f"derived.build_cases(Path({str(data_dir)!r}))",
        setup="from pathlib import Path\nfrom radqa import derived\n",
    )
    return [
        "## Bench database",
        "",
        f"`radqa demo --studies {DEMO_STUDIES}`: {n['studies']:,} studies, "
        f"{n['predictions']:,} predictions, {n['reads']:,} reads; {built}.",
        "",
        f"The snapshot's cases table (`radqa/derived.py`: the predictions joined once to their "
        f"study and reference standard, built by ingest after it publishes) rebuilt in "
        f"{cases.seconds:.1f} s, peak {cases.peak_mb:,.0f} MB.",
    ]


def clear_result_cache(data_dir: Path) -> None:
    """Remove results earlier runs left on disk, so that cold figures are cold."""
    shutil.rmtree(data_dir / "cache", ignore_errors=True)


def main() -> None:
    sizes = tuple(
        int(s) for s in os.environ.get("RADQA_BENCH_SIZES", "1000000,10000000").split(",")
    )
    only = os.environ.get("RADQA_BENCH_ONLY", "")  # e.g. "grouped metrics,monthly report"
    lines = [
        "# RadQA benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}. "
        "Each figure is one run in a fresh process (the ingest section takes medians, as it says); "
        "peak MB is that process's max RSS.",
        "",
    ]
    demo_dir = OUT / "demo-10m"
    sections = [
        ("ingest", lambda: ingest_bench.run(OUT, sizes)),
        ("demo database", lambda: build_demo(demo_dir)),
        ("grouped metrics", lambda: metrics_bench.run(demo_dir)),
        ("monthly report", lambda: report_bench.run(demo_dir, "2026-10", OUT / "report")),
        ("dashboard pages", lambda: pages_bench.run(demo_dir)),
    ]
    for name, step in sections:
        if only and name not in only.split(","):
            continue
        print(f"bench: {name} ...", flush=True)
        clear_result_cache(demo_dir)
        section = step()
        lines += [*section, ""]
        (ROOT / "results.md").write_text("\n".join(lines) + "\n")
        print("\n".join(section), flush=True)
    print(f"bench: wrote {ROOT / 'results.md'}")


if __name__ == "__main__":
    main()
