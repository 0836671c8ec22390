"""A CD or DVD as it arrives: its DICOMDIR against the files beside it.

A tester found: a folder holding only a CD's DICOMDIR (the image files not copied) loaded 0
studies and exited 0, and no one was told that the CD was copied in part. pydicom's
``dicomdirtests`` CD (a DICOMDIR listing 31 files of two patients, in folders named after
one's PatientID, 77654033) is copied to a temporary folder, in whole or in part.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from ingest.dicom import ingest_dicom
from ingest.pseudonym import KEY_ENV
from radqa import store
from radqa.cli import main

CD_FOLDERS = ("77654033", "98892001", "98892003")  # the folders its DICOMDIR lists files in
MISSING = (
    "file(s) it lists are missing from its folder (a CD or DVD copied in part? copy all of it)"
)
PASSED_OVER = (
    "1 DICOMDIR(s) passed over (a CD's or DVD's index of its files, not a study's object; the "
    "files of its folder are read): DICOMDIR"
)
# what the CD's headers and DICOMDIR say of its patients: never shown
PATIENT_WORDS = ("77654033", "98890234", "Doe", "Archibald", "Peter")


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-0123456789")


def _dicomdir() -> Path:
    return Path(get_testdata_file("DICOMDIR"))  # type: ignore[arg-type]


def _cd(to: Path, *, images: bool = True) -> Path:
    """pydicom's CD at ``to``: its DICOMDIR, and the 31 files it lists when ``images``."""
    to.mkdir(parents=True)
    shutil.copy(_dicomdir(), to / "DICOMDIR")
    if images:
        for folder in CD_FOLDERS:
            shutil.copytree(_dicomdir().parent / folder, to / folder)
    return to


def _quarantine(data: Path) -> list[tuple[str, str]]:
    con = store.open_snapshot(data)
    try:
        return con.execute("select file_name, reason from quarantine order by 1").fetchall()
    finally:
        con.close()


def test_a_dicomdir_without_its_files_says_how_many_are_missing_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cd = _cd(tmp_path / "cdrom", images=False)
    data = tmp_path / "data"

    assert main(["--data-dir", str(data), "ingest", "dicom", str(cd)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == (
        f"{cd}: batch 1: 0 studies from 0 of 1 file(s): 0 new, 0 updated, 0 unchanged; "
        f"0 file(s) skipped; {PASSED_OVER}; 31 of the 31 file(s) listed in the DICOMDIR are "
        "missing from its folder"
    )
    # the first five in the DICOMDIR's order, relative to it; the folder named after the
    # patient's id is hidden, though no header of that patient was read
    missing = (
        f"31 of the 31 {MISSING}: <patient>/CR1/6154, <patient>/CR2/6247, <patient>/CR3/6278, "
        "<patient>/CT2/17106, <patient>/CT2/17136, ... (26 more)"
    )
    assert err.splitlines() == [
        "missing 31 of the 31 file(s) listed in 1 DICOMDIR(s):",
        f"  DICOMDIR: {missing}",
    ]
    assert "DICOMDIR:" not in out  # the problems are on stderr only
    for word in PATIENT_WORDS:
        assert word not in out + err, word
    assert _quarantine(data) == [("DICOMDIR", missing)]
    # loaded again: the same batch, and still said
    summary = ingest_dicom(data, [cd / "DICOMDIR"])
    assert (summary.status, summary.ok) == ("unchanged", False)
    assert summary.missing == [("DICOMDIR", missing)]
    assert summary.message.endswith(
        "; 31 of the 31 file(s) listed in the DICOMDIR are missing from its folder"
    )


def test_a_cd_copied_in_part_names_the_files_missing_whatever_the_case_of_the_names(
    tmp_path: Path,
) -> None:
    cd = _cd(tmp_path / "cdrom")
    (cd / "77654033" / "CT2" / "17136").unlink()
    (cd / "98892003" / "MR2" / "4950").unlink()
    # as Linux may mount an ISO 9660 CD, or a copy may name its files: found all the same
    (cd / "98892003" / "MR700").rename(cd / "98892003" / "mr700")
    (cd / "98892001" / "CT5N" / "2062").rename(cd / "98892001" / "CT5N" / "2062.;1")

    summary = ingest_dicom(tmp_path / "data", [cd])

    assert (summary.files_read, summary.files_seen, summary.skipped) == (29, 30, [])
    assert (summary.listed_files, summary.missing_files) == (31, 2)
    assert summary.missing == [
        ("DICOMDIR", f"2 of the 31 {MISSING}: <patient>/CT2/17136, 98892003/MR2/4950")
    ]
    assert not summary.ok


def test_a_whole_cd_is_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cd = _cd(tmp_path / "cdrom")
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "ingest", "dicom", str(cd)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == (
        f"{cd}: batch 1: 6 studies from 31 of 32 file(s): 6 new, 0 updated, 0 unchanged; "
        f"0 file(s) skipped; {PASSED_OVER}"
    )
    summary = ingest_dicom(data, [cd])
    assert (summary.status, summary.listed_files, summary.missing_files) == ("unchanged", 31, 0)
    assert summary.ok


NOT_DICOM = "not a DICOM file (no 'DICM' prefix after the 128-byte preamble)"
# a viewer as CD burners add it beside the DICOMDIR, none of it listed there
VIEWER = {
    "AUTORUN.INF": b"[autorun]\r\nopen=VIEWER\\DCMVIEW.EXE\r\n",
    "README.TXT": b"Insert the CD and run DCMVIEW.EXE\r\n",
    "VIEWER/DCMVIEW.EXE": b"MZ\x90\x00" + bytes(300),
    "VIEWER/dcmcore.dll": b"MZ\x90\x00" + bytes(200),
    "VIEWER/index.html": b"<html><script src='js/app.js'></script></html>",
    "VIEWER/js/app.js": b"console.log('viewer')",
}


def _with_viewer(cd: Path) -> Path:
    for name, content in VIEWER.items():
        (cd / name).parent.mkdir(parents=True, exist_ok=True)
        (cd / name).write_bytes(content)
    return cd


def test_a_cds_viewer_software_is_counted_in_one_line_and_does_not_fail_the_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cd = _with_viewer(_cd(tmp_path / "cdrom"))
    data = tmp_path / "data"

    assert main(["--data-dir", str(data), "ingest", "dicom", str(cd)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == (
        f"{cd}: batch 1: 6 studies from 31 of 38 file(s): 6 new, 0 updated, 0 unchanged; "
        f"0 file(s) skipped; {PASSED_OVER}; 6 files of the CD that are not DICOM (viewer "
        "software, not listed in its DICOMDIR) passed over"
    )
    assert not any(name.rsplit("/", 1)[-1] in out for name in VIEWER)  # counted, not listed
    assert _quarantine(data) == []
    summary = ingest_dicom(data, [cd / "DICOMDIR"])
    assert (summary.status, summary.ok, summary.viewer_files) == ("unchanged", True, 6)
    assert summary.message.endswith("; 6 files of the CD that are not DICOM (viewer software, "
                                    "not listed in its DICOMDIR) passed over")  # fmt: skip


def test_files_a_dicomdir_lists_and_files_beside_its_folder_are_still_skipped(
    tmp_path: Path,
) -> None:
    src = tmp_path / "in"
    cd = _with_viewer(_cd(src / "cdrom"))
    (cd / "98892001" / "CT2N" / "6293").write_bytes(b"overwritten\n")  # listed: a lost image
    (cd / "VIEWER" / "cut.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")  # not listed,
    (src / "notes.txt").write_text("not on the CD\n")  # but DICOM cut short; and outside it

    summary = ingest_dicom(tmp_path / "data", [src])

    assert [(rel, reason[:26]) for rel, reason in summary.skipped] == [
        ("cdrom/98892001/CT2N/6293", NOT_DICOM[:26]),
        ("cdrom/VIEWER/cut.dcm", "truncated: the file ends i"),
        ("notes.txt", NOT_DICOM[:26]),
    ]
    assert (summary.viewer_files, summary.files_read, summary.files_seen) == (6, 30, 40)
    assert (summary.missing, summary.ok) == ([], False)
    # one file of a viewer: singular
    one = _cd(tmp_path / "one")
    (one / "AUTORUN.INF").write_bytes(VIEWER["AUTORUN.INF"])
    assert ingest_dicom(tmp_path / "data1", [one]).message.endswith(
        "; 1 file of the CD that is not DICOM (viewer software, not listed in its DICOMDIR) "
        "passed over"
    )
