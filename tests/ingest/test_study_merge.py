"""How a study's values from several sources merge: a correction is reported, and a value that
says less than the stored one (a date without its time, an unmapped DICOM institution) does not
replace it (a QA tester's findings)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ingest.dicom import ingest_dicom
from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write
from tests.test_dicom import _cr


def _study(data_dir: Path) -> tuple:
    [row] = snapshot_rows(
        data_dir, "select site, modality, study_datetime, patient_age, batch_id from studies"
    )
    return row


def test_a_corrected_study_is_reported_even_when_its_rows_are_unchanged(
    data_dir: Path, tmp_path: Path
) -> None:
    head = f"{PRED_HEADER},patient_age"
    first = write(tmp_path / "s1.csv", f"{head}\ni1,P1,A,2026-10-01,CR,ptx,M,1,0.5,45")
    second = write(tmp_path / "s2.csv", f"{head}\ni1,P1,B,2026-11-01T09:30:00,CT,ptx,M,1,0.5,")
    [one] = ingest_files(data_dir, "predictions", [first])
    [two] = ingest_files(data_dir, "predictions", [second])
    assert (two.inserted, two.replaced, two.unchanged) == (0, 0, 1)
    assert two.message.endswith(
        "; 1 known study updated with this file's values (1 now at another site than the one "
        "stored: check that this is a correction, not a mix-up, such as an accession number that "
        "two hospitals both use)"
    )
    assert "updated" not in one.message
    # an empty value keeps the stored one: a file may not carry every column
    assert _study(data_dir) == ("B", "CT", datetime(2026, 11, 1, 9, 30), 45, two.batch_id)


def test_a_date_without_its_time_keeps_the_time_of_that_day(data_dir: Path, tmp_path: Path) -> None:
    timed = write(tmp_path / "t.csv", f"{PRED_HEADER}\ni1,P1,A,2026-10-03T14:20:00,CR,ptx,M,1,0.5")
    dated = write(tmp_path / "d.csv", f"{PRED_HEADER}\ni1,P1,A,2026-10-03,CR,ptx,M,2,0.5")
    other_day = write(tmp_path / "o.csv", f"{PRED_HEADER}\ni1,P1,A,2026-10-04,CR,ptx,M,3,0.5")
    ingest_files(data_dir, "predictions", [timed])
    [same_day] = ingest_files(data_dir, "predictions", [dated])
    assert _study(data_dir)[2] == datetime(2026, 10, 3, 14, 20)
    assert "updated" not in same_day.message
    ingest_files(data_dir, "predictions", [other_day])  # a correction of the date itself
    assert _study(data_dir)[2] == datetime(2026, 10, 4)


def test_dicom_without_its_time_or_site_map_keeps_what_predictions_gave(
    data_dir: Path, tmp_path: Path
) -> None:
    preds = write(
        tmp_path / "p.csv", f"{PRED_HEADER}\n9.9.1,P1,Osaka,2026-10-03T14:20:00,CR,ptx,M,1,0.5"
    )
    ingest_files(data_dir, "predictions", [preds])
    _cr(tmp_path / "dcm" / "1.dcm", "9.9.1", StudyTime=None, Modality="DX")
    ingest_dicom(data_dir, [tmp_path / "dcm"])
    [row] = snapshot_rows(
        data_dir, "select site, institution, modality, study_datetime from studies"
    )
    assert row == ("Osaka", "OSAKA UNIV HOSP", "DX", datetime(2026, 10, 3, 14, 20))


def test_a_study_given_another_patient_is_updated_and_flagged(
    data_dir: Path, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.csv", f"{PRED_HEADER}\ni1,P1,A,2026-10-01,CR,ptx,M,1,0.5")
    second = write(tmp_path / "b.csv", f"{PRED_HEADER}\ni1,P9,A,2026-10-01,CR,ptx,M,1,0.5")
    ingest_files(data_dir, "predictions", [first])
    [moved] = ingest_files(data_dir, "predictions", [second])
    assert moved.message.endswith(
        "; 1 known study updated with this file's values (1 now with another patient than the "
        "one stored: check that this is a correction, not a mix-up)"
    )
    assert len(snapshot_rows(data_dir, "select distinct patient_pid from studies")) == 1


def test_one_accession_at_two_sites_in_one_file_is_warned(data_dir: Path, tmp_path: Path) -> None:
    # two hospitals number their studies alike: A100 is two studies, one study_uid
    rows = write(
        tmp_path / "two.csv",
        f"{PRED_HEADER}\n"
        "A100,P1,Osaka,2026-10-01,CR,ptx,M,1,0.5\n"
        "A100,P2,Busan,2026-10-02,CR,nodule,M,1,0.6\n"
        "A101,P3,Osaka,2026-10-01,CR,ptx,M,1,0.5\n"
        "A101,P3,Osaka,2026-10-01T08:00:00,CR,nodule,M,1,0.5\n"
        "A102,P4,Osaka,2026-10-01,CR,ptx,M,1,0.5\n"
        "A102,P5,Osaka,2026-10-01,CR,nodule,M,1,0.5",
    )
    [result] = ingest_files(data_dir, "predictions", [rows])
    assert result.message == (
        "two.csv: 6 accepted (6 new, 0 replaced, 0 unchanged), 0 quarantined; check 1 study "
        "whose rows name two or more sites and 2 studies whose rows name two or more patients "
        "(e.g. A100, A102): a study_uid is stored as one study, with the values that sort last, "
        "so an accession number that two hospitals both use mixes two studies; give each "
        "hospital's studies their own study_uid"
    )
    assert snapshot_rows(data_dir, "select study_uid, site from studies order by 1") == [
        ("A100", "Osaka"),
        ("A101", "Osaka"),
        ("A102", "Osaka"),
    ]
    # rows that agree on site and patient (A101: a date with and without its time) say nothing
    one = write(tmp_path / "one.csv", f"{PRED_HEADER}\nB1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.5")
    [quiet] = ingest_files(data_dir, "predictions", [one])
    assert quiet.message == "one.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 0 quarantined"


def test_a_known_study_moved_to_another_site_is_warned(data_dir: Path, tmp_path: Path) -> None:
    first = write(tmp_path / "f.csv", f"{PRED_HEADER}\nA100,P1,Osaka,2026-10-01,CR,ptx,M,1,0.5")
    later = write(tmp_path / "l.csv", f"{PRED_HEADER}\nA100,P2,Busan,2026-10-02,CR,ptx,N,1,0.5")
    ingest_files(data_dir, "predictions", [first])
    [result] = ingest_files(data_dir, "predictions", [later])
    assert result.message == (
        "l.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 0 quarantined; 1 known study "
        "updated with this file's values (1 now with another patient than the one stored; 1 now "
        "at another site than the one stored: check that this is a correction, not a mix-up, "
        "such as an accession number that two hospitals both use)"
    )
