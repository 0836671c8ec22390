"""Data health counted every row ever quarantined as outstanding: a file mended and loaded
again left its old quarantine rows in the count (a tester's 26 rows, 12 of them still to mend).
A quarantined row whose natural key a later batch stored is "loaded since"; the tile counts the
open ones. The batch table reads in words."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import metrics
from ingest.load import ingest_files
from radqa.store import open_snapshot
from tests.ingest.conftest import PRED_HEADER, write

READS = "study_uid,finding,reader_id,label,read_datetime,read_role"


def _store(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    rows = [
        "S1,P1001,A,2026-10-01,CR,ptx,M,1,0.5",
        "S2,P1002,A,2026-10-01,CR,ptx,M,1,abc",  # mended in p2
        "S3,P1003,A,2026-10-01,CR,ptx,M,1,2.5",  # never mended
        "S4,P1004,A,2026-10-01,CR,ptx,M,1,0.3",
    ]
    ingest_files(data, "predictions", [write(tmp_path / "p.csv", "\n".join([PRED_HEADER, *rows]))])
    mended = [rows[0], rows[1].replace("abc", "0.7"), rows[3]]
    ingest_files(
        data, "predictions", [write(tmp_path / "p2.csv", "\n".join([PRED_HEADER, *mended]))]
    )
    reads = [
        "S1,ptx,RD-4411,1,2026-10-02,primary",
        "S2,ptx,RD-4411,maybe,2026-10-02,primary",  # mended below, with the role left blank
        "S4,ptx,RD-4411,2,2026-10-02,second",  # mended with another role: another key
    ]
    ingest_files(data, "reads", [write(tmp_path / "r.csv", "\n".join([READS, *reads]))])
    again = ["S2,ptx,RD-4411,0,2026-10-02,", "S4,ptx,RD-4411,1,2026-10-02,primary"]
    ingest_files(data, "reads", [write(tmp_path / "r2.csv", "\n".join([READS, *again]))])
    return data


def test_quarantined_rows_loaded_since_are_not_open(tmp_path: Path, app) -> None:  # noqa: ANN001
    data = _store(tmp_path)
    con = open_snapshot(data)
    rows = metrics.quarantine_rows(con)
    later = [None if pd.isna(v) else int(v) for v in rows["loaded_later"]]
    got = sorted(zip(rows["file_name"], rows["row_number"], later, strict=True))
    # batches: 1 p.csv, 2 p2.csv, 3 r.csv, 4 r2.csv
    assert got == [
        ("p.csv", 2, 2), ("p.csv", 3, None), ("r.csv", 2, 4), ("r.csv", 3, None),
    ]  # fmt: skip
    counts = metrics.overview_counts(con)
    assert (counts["quarantined"], counts["quarantined_open"]) == (4, 2)

    at = app(data, "views/health.py")
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Quarantined rows, open"] == "2"
    batches = at.dataframe[0]
    labels = {k: c.get("label") for k, c in json.loads(batches.proto.columns).items()}
    assert labels["rows_inserted"] == "New" and labels["batch_id"] == "Batch"
    assert "Published" not in at.caption[0].value or "ago" in at.caption[0].value
