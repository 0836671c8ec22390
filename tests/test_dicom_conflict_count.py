"""A study with two patient conflicts is one study in the summary's count.

A QA tester loaded DICOM files again: the study whose files disagreed on PatientID, among
themselves and with the patient stored before, had two conflict lines in quarantine, and the
re-run said "2 of its studies named more than one patient" for one study.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from ingest.dicom import ingest_dicom
from ingest.pseudonym import KEY_ENV
from radqa.cli import main

STUDY = "1.2.826.0.1.3680043.2.1125.77"
STORED = (
    f"study {STUDY}: its files name another patient than the one stored; the study keeps the "
    "stored patient (check the PatientID of its files and of its earlier sources)"
)
WITHIN = (
    f"study {STUDY}: its files disagree on PatientID (2 different patients); the study keeps "
    "the patient of 0 of its 2 files"
)


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-0123456789")


def _ct(path: Path, number: int, study: str = STUDY, **tags: str) -> None:
    """pydicom's CT_small.dcm as instance ``number`` of ``study``, ``tags`` replaced."""
    ds = dcmread(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
    ds.StudyInstanceUID = study
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{study}.{number}"
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)


def test_a_study_with_two_conflicts_is_counted_once_when_loaded_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    _ct(tmp_path / "first" / "0.dcm", 0, PatientID="P-CCC3")
    assert ingest_dicom(data, [tmp_path / "first"]).ok
    # two series of the study from other scanners, under two other PatientIDs
    src = tmp_path / "in"
    _ct(src / "1.dcm", 1, PatientID="P-AAA1", Manufacturer="GE", StationName="CT-A")
    _ct(src / "2.dcm", 2, PatientID="P-BBB2", Manufacturer="SIEMENS", StationName="CT-B")

    first = ingest_dicom(data, [src])
    assert first.conflicts == [STORED, WITHIN]
    assert first.message == (
        f"{src}: batch 2: 1 study from 2 of 2 file(s): 0 new, 1 updated, 0 unchanged; "
        "0 file(s) skipped; 1 study with files of more than one PatientID; 1 study whose "
        "files name another patient than the one stored; 1 study with images from more than "
        "one scanner (a study takes the scanner of most of its images, a tie the first by "
        "manufacturer and model; listed below)"
    )

    again = ingest_dicom(data, [src])
    assert again.render().splitlines() == [
        f"{src}: 2 file(s) already loaded as batch 2 (same content); nothing changed; 1 of its "
        "studies named more than one patient when it was loaded (listed below; see "
        "quarantine); 1 study with images from more than one scanner (a study takes the "
        "scanner of most of its images, a tie the first by manufacturer and model; listed "
        "below)",
        f"  {WITHIN}",
        f"  {STORED}",
        # said again, as the first load said it (tests/test_dicom_reload.py)
        f"  study {STUDY}: its files name 2 scanners (GE RHAPSODE: 1 file, SIEMENS RHAPSODE: "
        "1 file); the study takes GE RHAPSODE",
    ]
    assert "P-AAA1" not in again.render() and "P-BBB2" not in again.render()
    assert (again.status, again.ok) == ("unchanged", False)
    assert (first.conflict_studies, again.conflict_studies) == (1, 1)
    # the command prints the same, and exits 1
    capsys.readouterr()
    assert main(["--data-dir", str(data), "ingest", "dicom", str(src)]) == 1
    assert capsys.readouterr() == (again.render() + "\n", "")


def test_studies_beyond_the_twenty_lines_shown_are_counted_as_studies(tmp_path: Path) -> None:
    """11 studies with both conflicts: 22 lines, 20 shown; the rest were 'more such studies'."""
    data = tmp_path / "data"
    first, src = tmp_path / "first", tmp_path / "in"
    for n in range(11):
        study = f"{STUDY}.{n + 1}"
        _ct(first / f"{n}.dcm", 0, study, PatientID="P-CCC3")
        _ct(src / f"{n}a.dcm", 1, study, PatientID="P-AAA1")
        _ct(src / f"{n}b.dcm", 2, study, PatientID="P-BBB2")
    ingest_dicom(data, [first])
    ingest_dicom(data, [src])
    again = ingest_dicom(data, [src])
    lines = again.render().splitlines()
    assert len(again.conflicts) == 22
    assert lines[0].endswith(
        "nothing changed; 11 of its studies named more than one patient when it was loaded "
        "(listed below; see quarantine)"
    )
    assert lines[1:21] == [f"  {line}" for line in again.conflicts[:20]]
    assert lines[21:] == ["  ... and 2 more (see quarantine)"]
    assert again.conflict_studies == 11
