"""`make bench`'s ingest section runs end to end (on 3,000 rows) and reports every row it names."""

from __future__ import annotations

import re
from pathlib import Path

from bench.ingest_bench import run


def test_ingest_bench_reports_every_measure(tmp_path: Path) -> None:
    lines = run(tmp_path, sizes=(3_000,))
    rows = [line for line in lines if line.startswith("| ") and "3,000" in line]
    names = [row.split(" | ")[0].removeprefix("| ") for row in rows]
    assert names == [
        "bare DuckDB load, CSV",
        "writing the stored tables alone, no checks (floor), CSV",
        "pseudonymising the distinct patient ids alone (reading the column, HMAC-SHA256), CSV",
        "checking every row alone (read, typed, every rule; nothing kept), CSV",
        "RadQA first load, CSV",
        "bare DuckDB load, PARQUET",
        "writing the stored tables alone, no checks (floor), PARQUET",
        "pseudonymising the distinct patient ids alone (reading the column, HMAC-SHA256), PARQUET",
        "checking every row alone (read, typed, every rule; nothing kept), PARQUET",
        "RadQA first load, PARQUET",
        "re-ingest, same rows in another file (every row checked and matched)",
        "re-ingest, the same file unchanged (content hash)",
        "snapshot publish",
        "batch with half its rows already loaded",
    ]
    for row in rows:
        seconds = float(row.split(" | ")[2])
        assert 0 < seconds < 60, row
    # every row but the bare loads and publish carries its ratio to the bare load
    ratios = [r for r in rows if re.search(r"\| \d+\.\d\dx \|", r)]
    assert len(ratios) == 11
