"""Loading the same DICOM files again says again what their first load said of their studies.

A tester found: the first load of a study whose images come from two scanners listed it (the
scanner taken is a choice the QA committee should know of), a second load of the same files said
nothing of it, so that whoever ran the second never learnt of it. The store keeps only the
scanner each study took, so the files, read again to know the batch, give the list again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.dicom import ingest_dicom
from ingest.pseudonym import KEY_ENV
from radqa.cli import main
from tests.test_dicom_media import _ct, _two_scanner_study

TWO_SCANNERS = (
    "study 7.3.1: its files name 2 scanners (SIEMENS SOMATOM Force: 1 file, TOSHIBA Aquilion "
    "ONE: 1 file); the study takes SIEMENS SOMATOM Force"
)
NOTE = (
    "; 1 study with images from more than one scanner (a study takes the scanner of most of its "
    "images, a tie the first by manufacturer and model; listed below)"
)


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-0123456789")


def test_loading_the_same_files_again_lists_the_studies_of_two_scanners_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, data = tmp_path / "in", tmp_path / "data"
    _two_scanner_study(src, "a.dcm", "b.dcm")
    _ct(src / "c.dcm", "7.3.2")  # one scanner: not listed
    args = ["--data-dir", str(data), "ingest", "dicom", str(src)]

    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(args) == 0
    again = capsys.readouterr().out.splitlines()

    assert first[0].endswith(f"0 file(s) skipped{NOTE}")
    assert again[0] == (
        f"{src}: 3 file(s) already loaded as batch 1 (same content); nothing changed{NOTE}"
    )
    assert first[1] == again[1] == f"  {TWO_SCANNERS}"
    summary = ingest_dicom(data, [src])
    assert (summary.status, summary.scanners, summary.ok) == ("unchanged", [TWO_SCANNERS], True)


def test_a_batch_without_studies_of_two_scanners_says_nothing_of_them_again(
    tmp_path: Path,
) -> None:
    src, data = tmp_path / "in", tmp_path / "data"
    _ct(src / "c.dcm", "7.3.2")
    (src / "notes.txt").write_text("x")  # skipped: no study
    ingest_dicom(data, [src])
    summary = ingest_dicom(data, [src])
    assert (summary.status, summary.scanners) == ("unchanged", [])
    assert "scanner" not in summary.message
