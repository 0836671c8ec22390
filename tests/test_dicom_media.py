"""DICOM as it arrives from media and exports: gzip-compressed files, a CD's DICOMDIR, studies
whose images come from two scanners, pydicom's warnings, and skipped files that must be found.

A tester found: gzipped DICOM skipped as 'not a DICOM file' (its study lost); a study of a
Toshiba and a Siemens series taking its scanner by file order (renaming flipped it, silently);
every CD import exiting 1 for its DICOMDIR; pydicom's UserWarnings on stderr; and skipped files
in folders named after a patient listed as six identical ``<patient>/notes.txt``.
"""

from __future__ import annotations

import gzip
import shutil
import warnings
import zlib
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.fileset import FileSet
from pydicom.uid import ExplicitVRLittleEndian

from ingest.dicom import ingest_dicom
from ingest.pseudonym import KEY_ENV
from radqa import store
from radqa.cli import main

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
NOT_DICOM = "not a DICOM file (no 'DICM' prefix after the 128-byte preamble)"


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-0123456789")


def _sample(name: str) -> Path:
    return Path(get_testdata_file(name))  # type: ignore[arg-type]


def _ct(path: Path, study: str, **tags: object) -> Path:
    """One CT image of ``study`` at ``path``; ``tags`` replace the defaults."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_IMAGE
    meta.MediaStorageSOPInstanceUID = f"1.2.3.4.{zlib.crc32(str(path).encode())}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    values: dict[str, object] = {
        "SOPClassUID": CT_IMAGE,
        "SOPInstanceUID": meta.MediaStorageSOPInstanceUID,
        "StudyInstanceUID": study,
        "Modality": "CT",
        "PatientID": "PID-313131",
        "PatientName": "KATO^HANA",
        "StudyDate": "20261001",
        "Manufacturer": "TOSHIBA",
        "ManufacturerModelName": "Aquilion ONE",
        "SoftwareVersions": "V8",
        "StationName": "CT01",
        "InstitutionName": "OSAKA UNIV HOSP",
        **tags,
    }
    for keyword, value in values.items():
        if value is not None:
            setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _studies(data: Path) -> dict[str, tuple[object, ...]]:
    con = store.open_snapshot(data)
    try:
        rows = con.execute(
            "select study_uid, modality, scanner_manufacturer, scanner_model, scanner_software, "
            "station from studies"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def _quarantined(data: Path) -> list[str]:
    con = store.open_snapshot(data)
    try:
        return [r[0] for r in con.execute("select file_name from quarantine order by 1").fetchall()]
    finally:
        con.close()


def test_gzip_compressed_dicom_is_read_by_its_magic_bytes_not_its_name(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(_sample("zipMR.gz"), src / "zipMR.gz")  # pydicom's own gzipped MR
    plain = _ct(tmp_path / "ct.dcm", "7.1.1").read_bytes()
    (src / "IM0002.dcm.gz").write_bytes(gzip.compress(plain))
    (src / "IM0003").write_bytes(gzip.compress(_ct(tmp_path / "c.dcm", "7.1.2").read_bytes()))
    (src / "corrupt.dcm.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 40)
    (src / "notes.txt.gz").write_bytes(gzip.compress(b"a text, not DICOM\n" * 20))
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    mr_uid = str(dcmread(_sample("MR_small.dcm")).StudyInstanceUID)
    with gzip.open(_sample("zipMR.gz")) as fh:
        assert str(dcmread(fh).StudyInstanceUID) == mr_uid
    assert sorted(_studies(data)) == sorted(["7.1.1", "7.1.2", mr_uid])
    assert _studies(data)["7.1.1"] == ("CT", "TOSHIBA", "Aquilion ONE", "V8", "CT01")
    assert summary.skipped == [
        (
            "corrupt.dcm.gz",
            "a gzip-compressed file that cannot be decompressed (cut short or corrupt)",
        ),
        ("notes.txt.gz", "not a DICOM file: a gzip file whose content has no 'DICM' prefix"),
    ]
    assert (summary.files_read, summary.files_seen) == (3, 5)
    assert ingest_dicom(data, [src]).status == "unchanged"


def test_a_gzip_file_is_read_up_to_its_pixels_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 4 MB of pixels after the header: reading the header decompresses a small part of them
    big = _ct(tmp_path / "big.dcm", "7.2.1", BitsAllocated=8, PixelData=bytes(range(256)) * 16384)
    src = tmp_path / "in"
    src.mkdir()
    (src / "big.dcm.gz").write_bytes(gzip.compress(big.read_bytes()))
    decompressed = []
    read = gzip.GzipFile.read

    def counting(self: gzip.GzipFile, size: int = -1) -> bytes:
        out = read(self, size)
        decompressed.append(len(out))
        return out

    monkeypatch.setattr(gzip.GzipFile, "read", counting)
    summary = ingest_dicom(tmp_path / "data", [src])
    assert (summary.files_read, summary.skipped) == (1, [])
    assert 0 < sum(decompressed) < 200_000 < big.stat().st_size


def _two_scanner_study(src: Path, first: str, second: str) -> None:
    """A study of one Siemens and one Toshiba CT series, each one file, named so that
    ``first`` sorts first."""
    _ct(src / first, "7.3.1", Manufacturer="SIEMENS", ManufacturerModelName="SOMATOM Force",
        SoftwareVersions="VA50", StationName="CT02")  # fmt: skip
    _ct(src / second, "7.3.1")


def test_a_study_of_two_scanners_takes_the_one_of_most_images_whatever_the_file_names(
    tmp_path: Path,
) -> None:
    siemens = ("CT", "SIEMENS", "SOMATOM Force", "VA50", "CT02")
    toshiba = ("CT", "TOSHIBA", "Aquilion ONE", "V8", "CT01")
    # a tie (one file each): the first by manufacturer, whichever file sorts first
    for n, (first, second) in enumerate((("a.dcm", "b.dcm"), ("b.dcm", "a.dcm"))):
        src, data = tmp_path / f"in{n}", tmp_path / f"data{n}"
        _two_scanner_study(src, first, second)
        summary = ingest_dicom(data, [src])
        assert _studies(data)["7.3.1"] == siemens
        assert summary.ok
        assert summary.scanners == [
            "study 7.3.1: its files name 2 scanners (SIEMENS SOMATOM Force: 1 file, TOSHIBA "
            "Aquilion ONE: 1 file); the study takes SIEMENS SOMATOM Force"
        ]
        assert summary.message.endswith(
            "; 0 file(s) skipped; 1 study with images from more than one scanner (a study takes "
            "the scanner of most of its images, a tie the first by manufacturer and model; "
            "listed below)"
        )
        assert summary.render().splitlines()[1] == f"  {summary.scanners[0]}"
    # two Toshiba files against one Siemens file sorted first: Toshiba, and its software and
    # station, not the Siemens file's
    src, data = tmp_path / "in2", tmp_path / "data2"
    _two_scanner_study(src, "a.dcm", "b.dcm")
    _ct(src / "c.dcm", "7.3.1", SoftwareVersions=None, StationName=None)
    summary = ingest_dicom(data, [src])
    assert _studies(data)["7.3.1"] == toshiba
    assert summary.scanners == [
        "study 7.3.1: its files name 2 scanners (TOSHIBA Aquilion ONE: 2 files, SIEMENS "
        "SOMATOM Force: 1 file); the study takes TOSHIBA Aquilion ONE"
    ]
    # an AI product's secondary capture names the AI server: not a second scanner
    src, data = tmp_path / "in3", tmp_path / "data3"
    _ct(src / "0-ai.dcm", "7.3.2", SOPClassUID="1.2.840.10008.5.1.4.1.1.7",
        Manufacturer="AIVendor", ManufacturerModelName="LungAI")  # fmt: skip
    _ct(src / "1.dcm", "7.3.2")
    summary = ingest_dicom(data, [src])
    assert (_studies(data)["7.3.2"], summary.scanners) == (toshiba, [])


def test_a_dicomdir_is_passed_over_and_a_cd_import_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cd = tmp_path / "cdrom"
    # a CD as a viewer burns it: its DICOMDIR (pydicom's FileSet writes it) lists its image,
    # PT000000/ST000000/SE000000/IM000000 (a DICOMDIR listing files that are missing is a
    # problem: tests/test_dicom_cd.py)
    cd_set = FileSet()
    ct = _ct(tmp_path / "ct.dcm", "7.4.1", SeriesInstanceUID="7.4.1.1", StudyTime="1000",
             StudyID="1", SeriesNumber=1, InstanceNumber=1)  # fmt: skip
    cd_set.add(dcmread(ct))
    cd_set.write(cd)
    data = tmp_path / "data"

    assert main(["--data-dir", str(data), "ingest", "dicom", str(cd)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0] == (
        f"{cd}: batch 1: 1 study from 1 of 2 file(s): 1 new, 0 updated, 0 unchanged; "
        "0 file(s) skipped; 1 DICOMDIR(s) passed over (a CD's or DVD's index of its files, "
        "not a study's object; the files of its folder are read): DICOMDIR"
    )
    assert _quarantined(data) == []
    # the DICOMDIR given for the CD reads the CD: the same batch
    summary = ingest_dicom(data, [cd / "DICOMDIR"])
    assert (summary.status, summary.ok, summary.media) == ("unchanged", True, ["DICOMDIR"])
    assert list(_studies(data)) == ["7.4.1"]


def test_pydicom_warnings_do_not_reach_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # values longer than their VR allows, and a CS in lower case: pydicom warns, quoting them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # writing them warns too
        _ct(tmp_path / "in" / "1.dcm", "7.5.1", Modality="ct", StationName="S" * 30,
            InstitutionName="OSAKA UNIVERSITY HOSPITAL " * 3)  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = ingest_dicom(tmp_path / "data", [tmp_path / "in"])
    assert summary.ok
    # not a ResourceWarning: an earlier test's pydicom FileSet stages its CD in a temporary
    # directory, which the garbage collector may clean up (and warn of) during this one
    assert [str(w.message) for w in caught if not issubclass(w.category, ResourceWarning)] == []
    capfd.readouterr()
    assert (
        main(["--data-dir", str(tmp_path / "data2"), "ingest", "dicom", str(tmp_path / "in")]) == 0
    )
    assert capfd.readouterr().err == ""


def test_skipped_files_of_several_patients_folders_can_be_told_apart(tmp_path: Path) -> None:
    src = tmp_path / "in"
    # as in pydicom's test files, where PatientName Test^Phantom30sep hides test1.json and
    # test_PN.json (named otherwise here: pytest's folders hold "test")
    _ct(src / "scan.dcm", "7.6.1", PatientID="tPhantom30sep", PatientName="Demo^Phantom30sep")
    (src / "demo1.json").write_text("{}")
    (src / "demo_PN.json").write_text("{}")
    for folder in ("KATO HANA", "PID-313131_CT", "Kato_Hana_20261001"):
        (src / folder).mkdir()
        (src / folder / "notes.txt").write_text("x")
    _ct(src / "KATO HANA" / "IM1.dcm", "7.6.2")
    (src / "KATO.HANA").write_text("x")  # no extension kept: it is the name
    (src / "PID-313131.dcm").write_text("x")
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    # numbered in code point order: KATO HANA, KATO.HANA, Kato_Hana_20261001, PID-313131.dcm,
    # PID-313131_CT, demo1.json, demo_PN.json; a file keeps its extension
    assert [rel for rel, _ in summary.skipped] == [
        "<patient 1>/notes.txt",
        "<patient 2>",
        "<patient 3>/notes.txt",
        "<patient 4>.dcm",
        "<patient 5>/notes.txt",
        "<patient 6>.json",
        "<patient 7>.json",
    ]
    assert {reason for _, reason in summary.skipped} == {NOT_DICOM}
    assert _quarantined(data) == sorted(rel for rel, _ in summary.skipped)
    for word in ("KATO", "Kato", "HANA", "313131", "demo", "Phantom"):
        assert word not in summary.render(), word
    # one folder of one patient: plain <patient>, as before
    (tmp_path / "one" / "KATO HANA").mkdir(parents=True)
    (tmp_path / "one" / "KATO HANA" / "notes.txt").write_text("x")
    _ct(tmp_path / "one" / "KATO HANA" / "IM1.dcm", "7.6.2")
    one = ingest_dicom(tmp_path / "data1", [tmp_path / "one"])
    assert one.skipped == [("<patient>/notes.txt", NOT_DICOM)]
