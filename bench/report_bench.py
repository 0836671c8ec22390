"""The monthly drift report (HTML + PDF + JSON) on the bench database."""

from __future__ import annotations

from pathlib import Path

from bench._measure import measure


def run(data_dir: Path, month: str, out: Path) -> list[str]:
    m = measure(
        f"""
        paths = write_monthly_report(Path({str(data_dir)!r}), {month!r}, Path({str(out)!r}))
        _result = dict(sizes=[p.stat().st_size for p in paths])
        """,
        setup="from pathlib import Path\nfrom reports.monthly import write_monthly_report\n",
    )
    sizes = ", ".join(f"{s / 1e6:.2f} MB" for s in m.extra["sizes"])  # type: ignore[union-attr]
    return [
        "## Monthly drift report",
        "",
        "| what | seconds | peak MB (Python) | files (html, pdf, json) | target |",
        "|---|---:|---:|---|---|",
        f"| `radqa report monthly --month {month}` | {m.seconds:.1f} | {m.peak_mb:,.0f} | "
        f"{sizes} | < 30 s, < 3 GB |",
        "",
        "Peak memory is the Python process; Chromium (kaleido, static charts) runs beside it.",
    ]
