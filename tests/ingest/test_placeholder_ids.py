"""A placeholder id (UNKNOWN for an unidentified trauma patient, CONSENSUS for a reading panel)
once stored made every later row that said 'unknown' or 'consensus' in a body part, a station, a
model's name or a comment be quarantined as holding a patient or reader id, in every later file
(a tester). Placeholders are pseudonymised as before but not looked for in other values; a real
id still is."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.load import ingest_files
from ingest.redact import is_placeholder
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, write


@pytest.mark.parametrize(
    ("identifier", "placeholder"),
    [("UNKNOWN", True), ("Consensus", True), ("XXXX", True), ("0000", True), ("PAT0001", False),
     ("TANAKA", False), ("1000", False)],
)  # fmt: skip
def test_placeholders(identifier: str, placeholder: bool) -> None:
    assert is_placeholder(identifier) is placeholder


def test_a_stored_placeholder_id_quarantines_nothing_later(data_dir: Path, tmp_path: Path) -> None:
    october = f"""
{PRED_HEADER}
1.2.1,UNKNOWN,Osaka,2026-10-01,CR,ptx,M,1,0.3
1.2.2,PAT0002,Osaka,2026-10-01,CR,ptx,M,1,0.3
"""
    [first] = ingest_files(data_dir, "predictions", [write(tmp_path / "oct.csv", october)])
    assert (first.inserted, first.quarantined) == (2, 0)
    reads = f"""
{READ_HEADER}
1.2.1,ptx,CONSENSUS,1,2026-10-05
"""
    [read] = ingest_files(data_dir, "reads", [write(tmp_path / "r.csv", reads)])
    assert read.inserted == 1
    november = f"""
{PRED_HEADER},body_part,station,comment
1.2.3,PAT0003,Osaka,2026-11-01,CR,ptx,M,1,0.3,Unknown,UNKNOWN,reason unknown
1.2.4,PAT0004,Osaka,2026-11-01,CR,ptx,Consensus-AI,1,0.3,CHEST,ST1,consensus pending
1.2.5,PAT0005,Osaka,2026-11-01,CR,ptx,M,1,0.3,CHEST,ST1,prior PAT0002
"""
    [later] = ingest_files(data_dir, "predictions", [write(tmp_path / "nov.csv", november)])
    assert (later.inserted, later.quarantined) == (2, 1)
    assert later.reasons == [
        "nov.csv: row 3: column 'comment' holds a patient or reader id (not shown); expected a "
        "value that is no patient's or reader's id (or leave the column out: extra_columns in "
        "radqa.toml)"
    ]
