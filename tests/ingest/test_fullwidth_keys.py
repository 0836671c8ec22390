"""A patient or reader id in full-width characters (ＲＤ１２３４) is the same id as written
half-width (RD1234), as its pseudonym is since 5f43c82: also in the check for repeated keys of a
reads file, in the count of a study's patients, and in the id search's own ids of the file."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, snapshot_rows, write


def test_a_reader_in_both_widths_is_one_reader(data_dir: Path, tmp_path: Path) -> None:
    text = f"""
{READ_HEADER}
1.2.1,ptx,ＲＤ１２３４,1,2026-10-02
1.2.1,ptx,RD1234,0,2026-10-03
"""
    [result] = ingest_files(data_dir, "reads", [write(tmp_path / "r.csv", text)])
    assert (result.inserted, result.quarantined) == (1, 1)
    assert result.reasons == [
        "r.csv: row 1: duplicate of row 2 (same study_uid, finding, reader_id, read_role, arm); "
        "the last row in the file is kept"
    ]
    assert snapshot_rows(data_dir, "select count(distinct reader_pid), min(label) from reads") == [
        (1, False)
    ]


def test_a_patient_in_both_widths_is_one_patient_of_the_study(
    data_dir: Path, tmp_path: Path
) -> None:
    text = f"""
{PRED_HEADER}
1.2.1,ＰＡＴ１２３,Osaka,2026-10-01,CR,ptx,M,1,0.3
1.2.1,PAT123,Osaka,2026-10-01,CR,nodule,M,1,0.3
1.2.2,PAT777,Osaka,2026-10-01,CR,ptx,M,1,0.3
1.2.2,PAT778,Osaka,2026-10-01,CR,nodule,M,1,0.3
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "p.csv", text)])
    assert result.message == (
        "p.csv: 4 accepted (4 new, 0 replaced, 0 unchanged), 0 quarantined; check 1 study whose "
        "rows name two or more patients (e.g. 1.2.2): a study_uid is stored as one study, with "
        "the values that sort last, so an accession number that two hospitals both use mixes "
        "two studies; give each hospital's studies their own study_uid"
    )
