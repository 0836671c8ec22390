"""The monthly drift report (HTML + PDF + JSON) on the bench database."""

from __future__ import annotations

from pathlib import Path

from bench._measure import Measurement, measure


def _report(data_dir: Path, month: str, out: Path) -> Measurement:
    return measure(
        f"""
        paths = write_monthly_report(Path({str(data_dir)!r}), {month!r}, Path({str(out)!r}))
        _result = dict(sizes=[p.stat().st_size for p in paths])
        """,
        setup="from pathlib import Path\nfrom reports.monthly import write_monthly_report\n",
    )


def run(data_dir: Path, month: str, out: Path) -> list[str]:
    """Twice: cold (the caller emptied the result cache), then with the first run's results."""
    cold = _report(data_dir, month, out)
    again = _report(data_dir, month, out)
    sizes = ", ".join(f"{s / 1e6:.2f} MB" for s in cold.extra["sizes"])  # type: ignore[union-attr]
    return [
        "## Monthly drift report",
        "",
        "| what | seconds | peak MB (Python) | files (html, pdf, json) | target |",
        "|---|---:|---:|---|---|",
        f"| `radqa report monthly --month {month}`, cold (no cached result) | "
        f"{cold.seconds:.1f} | {cold.peak_mb:,.0f} | {sizes} | < 30 s, < 3 GB |",
        f"| the same again (statistics from the snapshot's result cache on disk) | "
        f"{again.seconds:.1f} | {again.peak_mb:,.0f} | | |",
        "",
        "Peak memory is the Python process; Chromium (kaleido, static charts) runs beside it.",
    ]
