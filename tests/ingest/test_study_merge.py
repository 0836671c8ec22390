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
    assert two.message.endswith("; 1 known study updated with this file's values")
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
