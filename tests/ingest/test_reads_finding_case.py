"""Reads whose finding differs from their study's predictions by case alone ('Pneumothorax',
'pneumothorax') never meet them and leave the study pending: the batch message says so (a QA
tester: no warning at all). The finding is part of the natural key and is stored as sent."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, snapshot_rows, write

PREDS = (
    "1,P1,Osaka,2026-10-01,CR,pneumothorax,M,1,0.4\n"
    "1,P1,Osaka,2026-10-01,CR,effusion,M,1,0.4\n"
    "2,P2,Osaka,2026-10-02,CR,pneumothorax,M,1,0.7\n"
    "3,P3,Osaka,2026-10-03,CR,pneumothorax,M,1,0.2"
)
READS = (
    "1,Pneumothorax,R1,1,2026-10-05\n"
    "1,Pneumothorax,R2,1,2026-10-05\n"
    "1,effusion,R1,0,2026-10-05\n"
    "2,PNEUMOTHORAX,R1,0,2026-10-05\n"
    "3,pneumothorax,R1,0,2026-10-05\n"
    "4,Pneumothorax,R1,0,2026-10-05"  # no prediction for study 4: nothing to compare
)
WARNING = (
    "; 3 reads name a finding that the predictions of their study spell differently "
    "('PNEUMOTHORAX' vs 'pneumothorax'): they will not count until the spellings agree"
)


def test_reads_spelled_in_another_case_are_warned_of(data_dir: Path, tmp_path: Path) -> None:
    ingest_files(data_dir, "predictions", [write(tmp_path / "p.csv", f"{PRED_HEADER}\n{PREDS}")])
    [reads] = ingest_files(
        data_dir, "reads", [write(tmp_path / "r.csv", f"{READ_HEADER}\n{READS}")]
    )
    assert reads.message == (
        f"r.csv: 6 accepted (6 new, 0 replaced, 0 unchanged), 0 quarantined{WARNING}"
        "; 1 of its 4 studies is not known yet (no prediction or DICOM header has named it): "
        "the reads wait for their predictions; if those never come, check that both files name "
        "a study by the same study_uid (the StudyInstanceUID in both, or the accession number "
        "in both)"
    )
    # stored as sent: the finding is part of the key
    assert snapshot_rows(data_dir, "select distinct finding from reads order by 1") == [
        ("PNEUMOTHORAX",),
        ("Pneumothorax",),
        ("effusion",),
        ("pneumothorax",),
    ]


def test_one_read_and_none(data_dir: Path, tmp_path: Path) -> None:
    ingest_files(data_dir, "predictions", [write(tmp_path / "p.csv", f"{PRED_HEADER}\n{PREDS}")])
    [one] = ingest_files(
        data_dir,
        "reads",
        [write(tmp_path / "r1.csv", f"{READ_HEADER}\n2,Pneumothorax,R1,0,2026-10-05")],
    )
    assert one.message.endswith(
        "; 1 read names a finding that the predictions of their study spell differently "
        "('Pneumothorax' vs 'pneumothorax'): they will not count until the spellings agree"
    )
    [fine] = ingest_files(
        data_dir,
        "reads",
        [write(tmp_path / "r2.csv", f"{READ_HEADER}\n3,pneumothorax,R1,0,2026-10-05")],
    )
    assert fine.message == "r2.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 0 quarantined"


def test_predictions_loaded_after_the_reads_are_warned_of_too(
    data_dir: Path, tmp_path: Path
) -> None:
    ingest_files(data_dir, "reads", [write(tmp_path / "r.csv", f"{READ_HEADER}\n{READS}")])
    [preds] = ingest_files(
        data_dir, "predictions", [write(tmp_path / "p.csv", f"{PRED_HEADER}\n{PREDS}")]
    )
    # studies 1 and 2 (their reads say Pneumothorax, PNEUMOTHORAX); study 3 agrees; effusion too
    assert preds.message == (
        "p.csv: 4 accepted (4 new, 0 replaced, 0 unchanged), 0 quarantined; 2 predictions name "
        "a finding that the reads of their study spell differently ('pneumothorax' vs "
        "'PNEUMOTHORAX'): they will not count until the spellings agree"
    )
