"""DICOM header ingest, on the real sample files that pydicom ships."""

from __future__ import annotations

import io
import os
import shutil
import signal
import zipfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pydicom import dcmread, dcmwrite
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from ingest import dicom as dicom_module
from ingest.dicom import DicomSummary, ingest_dicom, parse_age, parse_sex, parse_study_datetime
from ingest.load import ingest_files
from ingest.pseudonym import KEY_ENV, load_key, pseudonymise
from radqa import derived, store
from radqa.settings import Settings
from tests.ingest.conftest import PRED_HEADER, files_holding

CT_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_UID = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
CR_UID = "1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1"
RAW_IDS = ("1CT1", "4MR1", "77654033")  # PatientID of CT_small, MR_small, the CR study

DAMAGED = (
    "the header is damaged: an element's length runs past the end of the file, or the next "
    "element cannot be read"
)

COLUMNS = (
    "site, institution, modality, scanner_manufacturer, scanner_model, scanner_software, "
    "station, body_part, study_datetime, patient_age, patient_sex, patient_pid, source"
)


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-0123456789")


def _load_predictions(data: Path, *rows: str) -> None:
    """Ingest prediction ``rows`` (CSV lines under PRED_HEADER) into ``data``, as a site would
    before or after its DICOM headers."""
    csv = data.parent / "preds.csv"
    csv.write_text("\n".join([PRED_HEADER, *rows]) + "\n")
    [result] = ingest_files(data, "predictions", [csv])
    assert result.status == "committed", result.message


def _sample(name: str) -> Path:
    return Path(get_testdata_file(name))  # type: ignore[arg-type]


CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage


def _cr(path: Path, study: str | None = "1.2.3.4.100", **tags: object) -> Path:
    """One valid CR file at ``path`` (file meta, explicit VR little endian); ``tags`` replace
    the defaults below, a None leaves the element out."""
    sop_class = str(tags.pop("SOPClassUID", CR_IMAGE))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = f"1.2.3.4.{zlib.crc32(str(path).encode())}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    values: dict[str, object] = {
        "SOPClassUID": sop_class,
        "SOPInstanceUID": meta.MediaStorageSOPInstanceUID,
        "StudyInstanceUID": study,
        "SeriesInstanceUID": "1.2.3.4.100.1",
        "Modality": "CR",
        "PatientID": "PID-777001",
        "PatientName": "YAMADA^TARO",
        "StudyDate": "20261003",
        "StudyTime": "142000",
        "Manufacturer": "FUJIFILM",
        "ManufacturerModelName": "FCR",
        "SoftwareVersions": "1.0",
        "StationName": "ST1",
        "InstitutionName": "OSAKA UNIV HOSP",
        "BodyPartExamined": "CHEST",
        "PatientSex": "M",
        "PatientAge": "045Y",
        **tags,
    }
    for keyword, value in values.items():
        if value is not None:
            setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    dcmwrite(path, ds, enforce_file_format=True)
    return path


def _folder(root: Path) -> Path:
    """CT_small, MR_small, two series of one CR study, a text file and a truncated CT."""
    for sub, name in (("ct", "CT_small.dcm"), ("mr", "MR_small.dcm"), ("cr/1", "6154")):
        (root / sub).mkdir(parents=True)
        shutil.copy(_sample(name), root / sub)
    (root / "cr/2").mkdir()
    shutil.copy(_sample("6247"), root / "cr/2")
    (root / "notes.txt").write_text("study list, not DICOM\n")
    (root / "ct/broken.dcm").write_bytes(_sample("CT_small.dcm").read_bytes()[:1000])
    return root


def _studies(data_dir: Path) -> dict[str, tuple]:
    con = store.open_snapshot(data_dir)
    try:
        rows = con.execute(f"select study_uid, {COLUMNS} from studies").fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def test_reads_ct_mr_cr_headers_into_one_row_per_study(tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = ingest_dicom(data, [_folder(tmp_path / "in")])
    key = load_key(data)

    assert (summary.files_seen, summary.files_read, summary.studies) == (6, 4, 3)
    assert (summary.inserted, summary.updated, summary.unchanged) == (3, 0, 0)
    assert summary.skipped == [
        ("ct/broken.dcm", "truncated: the file ends inside element (0010,1002)"),
        ("notes.txt", "not a DICOM file (no 'DICM' prefix after the 128-byte preamble)"),
    ]
    assert not summary.ok
    studies = _studies(data)
    assert studies[CT_UID] == (
        "JFK IMAGING CENTER",
        "JFK IMAGING CENTER",
        "CT",
        "GE MEDICAL SYSTEMS",
        "RHAPSODE",
        "05",
        "CT01_OC0",
        None,
        datetime(2004, 1, 19, 7, 27, 30),
        0,
        "O",
        pseudonymise(key, "1CT1"),
        "dicom",
    )
    assert studies[MR_UID] == (
        "TOSHIBA",
        "TOSHIBA",
        "MR",
        "TOSHIBA_MEC",
        "MRT50H1",
        "V3.51*P25",
        "000000000",
        None,
        datetime(2004, 8, 26, 18, 50, 59),
        None,
        "F",
        pseudonymise(key, "4MR1"),
        "dicom",
    )
    # the CR study comes in two series (two files); PatientSex is empty, age 047Y
    assert studies[CR_UID] == (
        None,
        None,
        "CR",
        "Agfa-Gevaert AG",
        "ADC_5146",
        "acp_3403",
        None,
        "CSPINE",
        datetime(2001, 1, 1),
        47,
        None,
        pseudonymise(key, "77654033"),
        "dicom",
    )


def test_batch_quarantine_and_no_raw_patient_id_anywhere(tmp_path: Path) -> None:
    data = tmp_path / "data"
    summary = ingest_dicom(data, [_folder(tmp_path / "in")])
    con = store.open_snapshot(data)
    try:
        batch = con.execute(
            "select batch_id, kind, status, rows_read, rows_accepted, rows_inserted, "
            "rows_replaced, rows_unchanged, rows_quarantined from ingest_batches"
        ).fetchall()
        quarantine = con.execute(
            "select batch_id, file_name, row_number, column_name, raw from quarantine "
            "order by file_name"
        ).fetchall()
    finally:
        con.close()
    assert batch == [(summary.batch_id, "dicom", "committed", 4, 3, 3, 0, 0, 2)]
    assert quarantine == [
        (summary.batch_id, "ct/broken.dcm", 0, None, None),
        (summary.batch_id, "notes.txt", 0, None, None),
    ]
    text = summary.render()
    assert "3 studies from 4 of 6 file(s): 3 new, 0 updated, 0 unchanged" in text
    assert "  notes.txt: not a DICOM file" in text
    assert store.working_path(data).is_file() and store.snapshot_path(data).is_file()
    for raw in RAW_IDS:
        assert raw not in text
    assert files_holding(data, *(raw.encode() for raw in RAW_IDS)) == []


def test_same_content_twice_is_a_no_op(tmp_path: Path) -> None:
    data, src = tmp_path / "data", _folder(tmp_path / "in")
    first = ingest_dicom(data, [src])
    second = ingest_dicom(data, [src])
    assert second.status == "unchanged"
    assert second.batch_id == first.batch_id
    # two of its files were skipped then (a cut CT, a text file): they still are, so not ok
    assert not second.ok
    assert second.render().splitlines() == [
        f"{src}: 6 file(s) already loaded as batch {first.batch_id} (same content); nothing "
        "changed; 2 of its files were skipped when it was loaded, and still are (see quarantine)",
        "skipped 2 file(s):",
        "  ct/broken.dcm: truncated: the file ends inside element (0010,1002)",
        "  notes.txt: not a DICOM file (no 'DICM' prefix after the 128-byte preamble)",
    ]
    (src / "notes.txt").unlink()
    (src / "ct" / "broken.dcm").unlink()
    ingest_dicom(data, [src])  # the good files alone: a new batch, which changes no study
    clean = ingest_dicom(data, [src])
    assert clean.ok
    assert clean.render() == (
        f"{src}: 4 file(s) already loaded as batch {first.batch_id + 1} (same content); "
        "nothing changed"
    )
    con = store.connect_working(data)
    try:
        assert con.execute("select count(*) from ingest_batches").fetchall() == [(2,)]
        assert con.execute("select count(*), max(batch_id) from studies").fetchall() == [
            (3, first.batch_id)
        ]
    finally:
        con.close()


def test_site_map_and_files_merged_first_non_empty_in_path_order(tmp_path: Path) -> None:
    src = tmp_path / "in"
    ds = dcmread(_sample("CT_small.dcm"))
    for sub, station, body in (("a", "", None), ("b", "CT02", "CHEST"), ("c", "CT03", "HEAD")):
        (src / sub).mkdir(parents=True)
        ds.StationName = station
        if body:
            ds.BodyPartExamined = body
        ds.save_as(src / sub / "1.dcm")
    data = tmp_path / "data"
    settings = Settings(data_dir=data, site_map={"JFK IMAGING CENTER": "North"})

    summary = ingest_dicom(data, [src], settings=settings)

    assert (summary.files_read, summary.studies, summary.inserted) == (3, 1, 1)
    assert summary.ok
    row = _studies(data)[CT_UID]
    assert row[:2] == ("North", "JFK IMAGING CENTER")  # site mapped, institution as received
    assert (row[6], row[7]) == ("CT02", "CHEST")  # a/ has neither, b/ is next, c/ comes later

    # the same files again but c alone first: a changed value updates the stored study
    ds.StationName = "CT09"
    ds.save_as(src / "c" / "1.dcm")
    again = ingest_dicom(data, [src / "c"], settings=settings)
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 0)
    assert _studies(data)[CT_UID][6] == "CT09"


def test_header_formats_multivalued_software_and_fractional_time(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("examples_palette.dcm", "examples_overlay.dcm"):
        shutil.copy(_sample(name), src)
    data = tmp_path / "data"
    summary = ingest_dicom(data, [src], publish=False)
    assert summary.snapshot_id is None
    con = store.connect_working(data)
    try:
        rows = con.execute(
            "select modality, scanner_software, study_datetime, patient_age, patient_sex "
            "from studies order by modality"
        ).fetchall()
    finally:
        con.close()
    palette = dcmread(_sample("examples_palette.dcm"), stop_before_pixels=True)
    assert len(palette.SoftwareVersions) == 5
    assert rows == [
        ("MR", "syngo MR 2004V 4VB11D", datetime(2005, 11, 30, 13, 26, 45, 921000), 58, "M"),
        ("US", "\\".join(palette.SoftwareVersions), datetime(2011, 5, 25, 14, 28, 25), None, None),
    ]


def test_header_only_files_are_read_and_a_header_without_study_uid_is_skipped(
    tmp_path: Path,
) -> None:
    raw = _sample("CT_small.dcm").read_bytes()
    src = tmp_path / "in"
    src.mkdir()
    (src / "ct_6288.dcm").write_bytes(raw[:6288])  # 6288: where the Pixel Data element starts
    (src / "ct_700.dcm").write_bytes(raw[:700])  # cut between elements, before the study UID
    shutil.copy(_sample("DICOMDIR"), src / "DICOMDIR")  # a medium's index: no study of its own
    # pydicom's Japanese and Korean CR headers: image headers (Rows) with no pixel data
    for name in ("chrJapMulti.dcm", "chrKoreanMulti.dcm"):
        shutil.copy(get_charset_files(name)[0], src / name)
    data = tmp_path / "data"
    summary = ingest_dicom(data, [src])
    assert summary.skipped == [
        (
            "ct_700.dcm",
            "truncated: the file ends after element (0008,0070), before the StudyInstanceUID "
            "(0020,000D)",
        ),
    ]
    assert summary.media == ["DICOMDIR"]  # passed over, not skipped (tests/test_dicom_media.py)
    assert (summary.files_read, summary.studies, summary.inserted) == (3, 3, 3)
    studies = _studies(data)
    # the header cut where the pixels start gives what the whole file gives
    whole = tmp_path / "whole"
    ingest_dicom(whole, [_sample("CT_small.dcm")])
    assert studies[CT_UID] == _studies(whole)[CT_UID]
    header_only = {
        str(dcmread(get_charset_files(n)[0]).StudyInstanceUID)
        for n in ("chrJapMulti.dcm", "chrKoreanMulti.dcm")
    }
    assert {uid: studies[uid][2] for uid in header_only} == dict.fromkeys(header_only, "CR")


def test_institution_names_in_japanese_and_korean_character_sets(tmp_path: Path) -> None:
    # InstitutionName written in the file's Specific Character Set: ISO 2022 IR 87 (JIS X 0208
    # with escape sequences) and ISO 2022 IR 149 (KS X 1001)
    src = tmp_path / "in"
    src.mkdir()
    for name, institution in (
        ("chrH31.dcm", "\u5927\u962a\u5927\u5b66\u75c5\u9662"),  # 大阪大学病院
        ("chrI2.dcm", "\uc11c\uc6b8\ub300\ud559\uad50\ubcd1\uc6d0"),  # 서울대학교병원
    ):
        ds = dcmread(get_charset_files(name)[0])
        ds.InstitutionName = institution
        ds.save_as(src / name)
        assert b"\x1b" in (src / name).read_bytes()  # stored with ISO 2022 escapes, not UTF-8
    data = tmp_path / "data"
    settings = Settings(data_dir=data, site_map={"\u5927\u962a\u5927\u5b66\u75c5\u9662": "Osaka"})
    summary = ingest_dicom(data, [src], settings=settings)
    assert summary.ok
    rows = sorted(v[:2] for v in _studies(data).values())
    assert rows == [
        ("Osaka", "\u5927\u962a\u5927\u5b66\u75c5\u9662"),
        (
            "\uc11c\uc6b8\ub300\ud559\uad50\ubcd1\uc6d0",
            "\uc11c\uc6b8\ub300\ud559\uad50\ubcd1\uc6d0",
        ),
    ]


def test_missing_path_and_empty_input(tmp_path: Path) -> None:
    summary = ingest_dicom(tmp_path / "data", [tmp_path / "absent"])
    assert summary.status == "empty"
    assert not summary.ok
    assert summary.skipped == [(str(tmp_path / "absent"), "no such file or folder")]
    assert summary.batch_id is None


@pytest.mark.parametrize("dicom_first", [True, False])
def test_predictions_and_dicom_fill_each_other_in_either_order(
    tmp_path: Path, dicom_first: bool
) -> None:
    data = tmp_path / "data"
    ct = tmp_path / "in" / "CT_small.dcm"
    ct.parent.mkdir()
    shutil.copy(_sample("CT_small.dcm"), ct)
    csv = tmp_path / "preds.csv"
    csv.write_text(
        "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score\n"
        f"{CT_UID},1CT1,North,2004-01-19T07:27:30,CT,bleed,headct,1.0,0.8\n"
    )
    settings = Settings(data_dir=data, site_map={"JFK IMAGING CENTER": "North"})
    steps = [
        lambda: ingest_dicom(data, [ct], settings=settings),
        lambda: ingest_files(data, "predictions", [csv], settings=settings),
    ]
    for step in steps if dicom_first else steps[::-1]:
        step()

    row = _studies(data)[CT_UID]
    assert row[:12] == (
        "North",
        "JFK IMAGING CENTER",
        "CT",
        "GE MEDICAL SYSTEMS",
        "RHAPSODE",
        "05",
        "CT01_OC0",
        None,
        datetime(2004, 1, 19, 7, 27, 30),
        0,
        "O",
        pseudonymise(load_key(data), "1CT1"),
    )
    # predictions after DICOM change no value, so the row is not rewritten: 'dicom' both ways
    assert row[12] == "dicom"
    con = duckdb.connect(str(store.snapshot_path(data)), read_only=True)
    try:
        assert con.execute("select study_uid, score from predictions").fetchall() == [(CT_UID, 0.8)]
    finally:
        con.close()
    # whichever came last rebuilt the snapshot's cases table with the scanner from the header
    snap = store.open_snapshot(data)
    try:
        assert derived.has_cases(snap)
        cases = snap.execute(
            f"select site, scanner_model, modality from {derived.CASES_CATALOG}.cases"
        ).fetchall()
        assert cases == [("North", "RHAPSODE", "CT")]
    finally:
        snap.close()


@pytest.mark.parametrize(
    ("date", "time", "expected"),
    [
        ("20040119", "072730", "2004-01-19 07:27:30"),
        ("20051130", "132645.921", "2005-11-30 13:26:45.921000"),
        ("20051130", "1326", "2005-11-30 13:26:00"),
        ("1997.04.24", "14:04:38", "1997-04-24 14:04:38"),
        ("20010101", None, "2001-01-01 00:00:00"),
        ("20010101", "2561", "2001-01-01 00:00:00"),
        ("20011301", "120000", None),
        (None, "120000", None),
    ],
)
def test_parse_study_datetime(date: str | None, time: str | None, expected: str | None) -> None:
    assert parse_study_datetime(date, time) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("045Y", 45), ("000Y", 0), ("006M", 0), ("018M", 1), ("003W", 0), ("010D", 0)]
    + [("131Y", None), ("45", None), ("abcY", None), (None, None)],
)
def test_parse_age(value: str | None, expected: int | None) -> None:
    assert parse_age(value) == expected


def test_parse_sex() -> None:
    assert [parse_sex(v) for v in ("M", "f", "O", "X", None)] == ["M", "F", "O", "U", None]


def test_render_lists_at_most_twenty_skipped_files() -> None:
    summary = DicomSummary(message="m", skipped=[(f"f{i}", "bad") for i in range(25)])
    lines = summary.render().splitlines()
    assert lines[1] == "skipped 25 file(s):"
    assert lines[2] == "  f0: bad"
    assert lines[-1] == "  ... and 5 more (see quarantine)"
    assert len(lines) == 23


def test_pixel_data_is_never_read_not_even_to_hash_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = dcmread(_sample("CT_small.dcm"))
    ds.PixelData = bytes(8_000_000)  # the size of a DX image's pixels
    src = tmp_path / "in"
    src.mkdir()
    ds.save_as(src / "dx.dcm")
    read: list[int] = []

    class Counted(io.FileIO):
        def readinto(self, buffer: Any) -> int | None:
            n = super().readinto(buffer)
            read.append(n or 0)
            return n

    def counted_open(path: Path, mode: str = "r") -> io.BufferedReader:
        assert mode == "rb"
        return io.BufferedReader(Counted(path, "r"))

    monkeypatch.setattr(dicom_module, "open", counted_open, raising=False)
    data = tmp_path / "data"
    first = ingest_dicom(data, [src])
    assert (first.files_read, first.inserted) == (1, 1)
    assert 0 < sum(read) < 64_000  # the header; the file is 8 MB
    # the pixels changed, the header did not: nothing we store changed
    ds.PixelData = b"\x01" * 8_000_000
    ds.save_as(src / "dx.dcm")
    assert ingest_dicom(data, [src]).status == "unchanged"
    # the header changed: the study is updated
    ds.StationName = "CT77"
    ds.save_as(src / "dx.dcm")
    again = ingest_dicom(data, [src])
    assert (again.status, again.updated) == ("committed", 1)
    assert _studies(data)[CT_UID][6] == "CT77"


def test_folders_named_after_the_patient_are_not_stored_or_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an export laid out as "<PatientID> <PatientName>/<StudyDate> <Modality>/", with one file
    # that cannot be read beside one that can
    ds = dcmread(_sample("CT_small.dcm"))
    ds.PatientID = "TKY-884412"
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8
    ds.PatientName = "YAMADA^TARO=\u5c71\u7530^\u592a\u90ce"  # 山田^太郎
    patient = tmp_path / "in" / "TKY-884412 YAMADA TARO"
    (patient / "20261001 CT").mkdir(parents=True)
    ds.save_as(patient / "20261001 CT" / "IM-0001.dcm")
    (patient / "20261001 CT" / "IM-0002.dcm").write_bytes(b"not dicom")
    kanji = tmp_path / "in" / "\u5c71\u7530\u592a\u90ce"  # 山田太郎: the name written as one word
    kanji.mkdir()
    (kanji / "notes.txt").write_text("x")
    (tmp_path / "in" / "\u5c71\u7530_\u592a\u90ce").mkdir()
    (tmp_path / "in" / "\u5c71\u7530_\u592a\u90ce" / "x.txt").write_text("x")
    data = tmp_path / "data"
    summary = ingest_dicom(data, [tmp_path / "in", patient])
    assert summary.files_read == 1
    # three folders named after the patient, numbered in the order of their names (code
    # points: TKY-884412 YAMADA TARO, 山田_太郎, 山田太郎) so that their files can be told apart
    assert sorted(summary.skipped) == [
        ("<patient 1>/20261001 CT/IM-0002.dcm", "not a DICOM file (no 'DICM' prefix after the "
         "128-byte preamble)"),
        ("<patient 2>/x.txt", "not a DICOM file (no 'DICM' prefix after the 128-byte preamble)"),
        ("<patient 3>/notes.txt", "not a DICOM file (no 'DICM' prefix after the 128-byte "
         "preamble)"),
    ]  # fmt: skip
    print(summary.render())
    shown = capsys.readouterr().out
    con = store.open_snapshot(data)
    try:
        stored = (
            con.execute(
                "select string_agg(file_name || ' ' || reason, '|') from quarantine"
            ).fetchall()[0][0]
            + con.execute(
                "select string_agg(file_name || ' ' || message, '|') from ingest_batches"
            ).fetchall()[0][0]
        )
    finally:
        con.close()
    assert str(tmp_path / "in") + ", " + str(tmp_path / "in" / "<patient 1>") in stored
    # the patient's folder first: the ", " after it stays (it was taken with the folder name)
    again = ingest_dicom(data, [patient, tmp_path / "in"])
    assert again.message.startswith(
        str(tmp_path / "in" / "<patient 1>") + ", " + str(tmp_path / "in") + ": "
    ), again.message
    for text in (shown, stored, again.message):
        for word in ("TKY-884412", "884412", "YAMADA", "TARO"):
            assert word not in text, (word, text)


def test_headers_read_in_worker_processes_give_the_same_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _folder(tmp_path / "in")
    serial = ingest_dicom(tmp_path / "serial", [src])
    pools: list[int] = []

    class Recorded(ProcessPoolExecutor):
        def __init__(self, workers: int, **kwargs: Any) -> None:
            pools.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(dicom_module, "PARALLEL_FROM", 1)
    monkeypatch.setattr(dicom_module, "ProcessPoolExecutor", Recorded)
    parallel = ingest_dicom(tmp_path / "parallel", [src], workers=2)
    assert pools == [2]
    assert (parallel.files_read, parallel.skipped) == (serial.files_read, serial.skipped)
    assert _studies(tmp_path / "parallel") == _studies(tmp_path / "serial")
    assert len(_studies(tmp_path / "serial")) == 3


def test_data_sets_without_preamble_and_file_meta_are_read(tmp_path: Path) -> None:
    # written by older systems and some storage servers: the data set alone, from byte 0
    src = tmp_path / "in"
    src.mkdir()
    for name in ("ExplVR_LitEndNoMeta.dcm", "ExplVR_BigEndNoMeta.dcm", "no_meta.dcm"):
        shutil.copy(_sample(name), src / name)
    assert (src / "ExplVR_BigEndNoMeta.dcm").read_bytes()[:2] == b"\x00\x08"
    summary = ingest_dicom(tmp_path / "data", [src])
    assert summary.files_read == 2
    # no_meta.dcm starts with a stray byte, not an element: not taken for a data set
    assert summary.skipped == [
        ("no_meta.dcm", "not a DICOM file (no 'DICM' prefix after the 128-byte preamble)")
    ]
    studies = _studies(tmp_path / "data")
    assert list(studies) == ["1.2.333.4444.5.6.7.8.9"]
    assert studies["1.2.333.4444.5.6.7.8.9"][2] == "RTPLAN"


def test_files_inside_zip_archives_are_read_as_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a PACS viewer's "download study" writes a ZIP, its folders often named after the patient
    folder = _folder(tmp_path / "unzipped")  # CT, MR, two CR files, notes.txt, a cut CT
    archive = tmp_path / "in" / "export.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            method = zipfile.ZIP_DEFLATED if path.suffix == ".dcm" else zipfile.ZIP_STORED
            zf.write(path, f"1CT1 CompressedSamples/{path.relative_to(folder)}", method)
    from_folder = ingest_dicom(tmp_path / "a", [folder])
    from_zip = ingest_dicom(tmp_path / "b", [archive.parent])
    assert (from_zip.files_seen, from_zip.files_read) == (6, 4)
    assert _studies(tmp_path / "b") == _studies(tmp_path / "a")
    # the skipped files are named inside the archive, the patient's folder hidden
    assert [(rel, reason) for rel, reason in from_zip.skipped] == [
        ("export.zip/<patient>/" + rel, reason) for rel, reason in from_folder.skipped
    ]
    # the archive is read again, the same: nothing changed
    assert ingest_dicom(tmp_path / "b", [archive.parent]).status == "unchanged"


def test_a_skipped_file_in_a_folder_named_after_its_patient_is_shown_redacted(
    tmp_path: Path,
) -> None:
    # the header names the patient, but the file is skipped: without a study UID, or cut inside
    # it (PatientName, group 0010, was read whole before the cut)
    src = tmp_path / "in"
    _cr(src / "SATO^KEN 55012" / "IM1.dcm", study=None, PatientID="55012", PatientName="SATO^KEN")
    whole = _cr(tmp_path / "whole.dcm", study="4.2.77777777", PatientID="66013",
                PatientName="TANAKA^YUKI")  # fmt: skip
    raw = whole.read_bytes()
    cut_at = raw.index(b"4.2.77777777") + 4
    (src / "TANAKA YUKI").mkdir()
    (src / "TANAKA YUKI" / "IM1.dcm").write_bytes(raw[:cut_at])
    # and one pydicom fails to parse after the patient group (the study UID's VR made SQ)
    raw = _cr(tmp_path / "mori.dcm", PatientID="88015", PatientName="MORI^AYA").read_bytes()
    at = raw.index(b"\x20\x00\x0d\x00UI") + 4
    (src / "88015").mkdir()
    (src / "88015" / "IM1.dcm").write_bytes(raw[:at] + b"SQ\0\0\xff\xff\xff\xff" + raw[at + 4 :])
    _cr(src / "ok" / "IM1.dcm", study="4.1")
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    assert (summary.files_read, summary.studies) == (1, 1)
    assert summary.skipped == [  # numbered in the order of the folders' names
        ("<patient 1>/IM1.dcm", f"cannot read the DICOM header: {DAMAGED}"),
        (
            "<patient 2>/IM1.dcm",
            "no StudyInstanceUID (0020,000D); expected one in every DICOM object",
        ),
        ("<patient 3>/IM1.dcm", "truncated: the file ends inside element (0020,000D)"),
    ]
    con = store.open_snapshot(data)
    try:
        stored = con.execute(
            "select file_name || ' ' || reason from quarantine union all "
            "select file_name || ' ' || message from ingest_batches"
        ).fetchall()
    finally:
        con.close()
    assert sorted(stored) == [
        (f"{src} {summary.message}",),
        (f"<patient 1>/IM1.dcm cannot read the DICOM header: {DAMAGED}",),
        (
            "<patient 2>/IM1.dcm no StudyInstanceUID (0020,000D); expected one in every DICOM object",
        ),
        ("<patient 3>/IM1.dcm truncated: the file ends inside element (0020,000D)",),
    ]
    for word in ("SATO", "KEN", "55012", "TANAKA", "YUKI", "66013", "88015"):
        assert word not in summary.render()
    words = (b"SATO", b"55012", b"TANAKA", b"YUKI", b"66013", b"88015")
    assert files_holding(data, *words) == []


def test_a_study_takes_its_scanner_from_images_before_reports_and_ai_objects(
    tmp_path: Path,
) -> None:
    # an AI product's structured report and its heat map (a secondary capture, modality CT), in
    # the same study as the CT images and sorted before them
    src = tmp_path / "in"
    ai = {"Manufacturer": "AIVendor", "ManufacturerModelName": "LungAI", "StationName": "AI-SERVER"}
    sr_class, sc_class = "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.7"
    _cr(src / "0-sr.dcm", study="5.1", Modality="SR", SOPClassUID=sr_class, **ai)
    _cr(src / "1-heatmap.dcm", study="5.1", Modality="CT", SOPClassUID=sc_class, **ai)
    for name in ("2-ct.dcm", "3-ct.dcm"):
        _cr(src / name, study="5.1", Modality="CT", SOPClassUID="1.2.840.10008.5.1.4.1.1.2",
            Manufacturer="GE MEDICAL SYSTEMS", ManufacturerModelName="Revolution",
            StationName="CT01", BodyPartExamined=None, SoftwareVersions=None)  # fmt: skip
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    assert summary.ok
    # the images give every field they have; the AI objects only fill body part and software
    assert _studies(data)["5.1"][2:8] == (
        "CT",
        "GE MEDICAL SYSTEMS",
        "Revolution",
        "1.0",
        "CT01",
        "CHEST",
    )
    assert summary.conflicts == []


def test_files_of_one_study_that_disagree_on_the_patient_are_reported(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for name, patient_id in (("1.dcm", "P-AAA1"), ("2.dcm", "P-BBB2"), ("3.dcm", "P-BBB2")):
        _cr(src / name, study="5.2", PatientID=patient_id)
    _cr(src / "4.dcm", study="5.3", PatientID="P-AAA1")
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    assert not summary.ok
    assert summary.conflicts == [
        "study 5.2: its files disagree on PatientID (2 different patients); "
        "the study keeps the patient of 1 of its 3 files"
    ]
    assert summary.render().splitlines()[:2] == [
        f"{src}: batch 1: 2 studies from 4 of 4 file(s): 2 new, 0 updated, 0 unchanged; "
        "0 file(s) skipped; 1 study with files of more than one PatientID",
        "  study 5.2: its files disagree on PatientID (2 different patients); "
        "the study keeps the patient of 1 of its 3 files",
    ]
    assert "P-AAA1" not in summary.render() and "P-BBB2" not in summary.render()
    key = load_key(data)
    assert _studies(data)["5.2"][11] == pseudonymise(key, "P-AAA1")  # the first file's, by path
    # loading the same files again says so again (it said 'nothing changed' and exited 0)
    again = ingest_dicom(data, [src])
    assert (again.status, again.ok, again.conflicts) == ("unchanged", False, summary.conflicts)
    assert again.message.endswith(
        "; 1 of its studies named more than one patient when it was loaded (listed below; "
        "see quarantine)"
    )


def test_a_named_pipe_is_skipped_without_being_opened(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _cr(src / "ok.dcm", study="6.1")
    os.mkfifo(src / "pipe.dcm")  # opening it would wait for a writer forever
    os.mkfifo(tmp_path / "given.dcm")

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the ingest opened the named pipe and waited for a writer")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        summary = ingest_dicom(tmp_path / "data", [src, tmp_path / "given.dcm"])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert (summary.files_read, summary.studies) == (1, 1)
    assert summary.skipped == [
        ("pipe.dcm", "a named pipe (FIFO), not a regular file: not opened"),
        ("given.dcm", "a named pipe (FIFO), not a regular file: not opened"),
    ]
    assert not summary.ok


def test_linked_folders_are_followed_once_and_unreadable_folders_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    _cr(tmp_path / "elsewhere" / "1.dcm", study="6.2")
    (src / "a").mkdir(parents=True)
    (src / "b-linked").symlink_to(tmp_path / "elsewhere")  # followed
    (src / "a" / "up").symlink_to(src)  # a loop
    (src / "a" / "same").symlink_to(tmp_path / "elsewhere")  # the same folder, seen above
    _cr(src / "locked" / "1.dcm", study="6.3")
    scandir = os.scandir

    def denied_for_locked(path: Any) -> Any:  # tests run as root, whom chmod 000 does not stop
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied_for_locked)
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    assert (summary.files_read, summary.studies) == (1, 1)
    assert list(_studies(data)) == ["6.2"]
    assert summary.skipped == []
    # a/same and a/up left nothing unread: a/same is passed over, the loop a/up noted
    assert summary.folders == [("locked", "cannot read the folder: Permission denied")]
    assert summary.notes == [("a/up", "a link to a folder that holds it (a loop); not followed")]
    assert not summary.ok
    assert summary.render().splitlines()[1:] == [
        "did not read 1 folder(s):",
        "  locked: cannot read the folder: Permission denied",
        "note: did not follow 1 link(s) into their own folder (its files were read once):",
        "  a/up: a link to a folder that holds it (a loop); not followed",
        f"published snapshot {summary.snapshot_id}",
    ]
    assert "; 0 file(s) skipped; 1 folder(s) not read" in summary.message
    con = store.open_snapshot(data)
    try:
        quarantined = con.execute("select file_name from quarantine order by 1").fetchall()
    finally:
        con.close()
    assert quarantined == [("locked/",)]


def test_a_site_map_added_after_a_first_load_is_applied_when_the_files_are_loaded_again(
    tmp_path: Path,
) -> None:
    src = tmp_path / "in"
    _cr(src / "1.dcm", study="7.1", InstitutionName="OSAKA UNIV HOSP")
    _cr(src / "2.dcm", study="7.2", InstitutionName="KOBE CITY HOSP")
    data = tmp_path / "data"
    first = ingest_dicom(data, [src])
    assert {uid: row[0] for uid, row in _studies(data).items()} == {
        "7.1": "OSAKA UNIV HOSP",
        "7.2": "KOBE CITY HOSP",
    }

    (data / "radqa.toml").write_text('[site_map]\n"OSAKA UNIV HOSP" = "Osaka University"\n')
    second = ingest_dicom(data, [src])

    assert (second.status, second.batch_id) == ("committed", first.batch_id + 1)
    assert second.message == (
        f"{src}: batch {second.batch_id}: 2 studies from 2 of 2 file(s): "
        "0 new, 1 updated (1 with a new site), 1 unchanged; 0 file(s) skipped; "
        "1 InstitutionName(s) not in the [site_map]"
    )
    assert second.unmapped == ["KOBE CITY HOSP"]
    assert {uid: row[:2] for uid, row in _studies(data).items()} == {
        "7.1": ("Osaka University", "OSAKA UNIV HOSP"),
        "7.2": ("KOBE CITY HOSP", "KOBE CITY HOSP"),
    }
    # the same files and the same map: nothing to do
    assert ingest_dicom(data, [src]).status == "unchanged"


def test_utf8_text_in_a_header_that_declares_no_character_set_is_read_as_utf8(
    tmp_path: Path,
) -> None:
    # no Specific Character Set, or the default ISO_IR 6, yet the bytes are UTF-8
    src = tmp_path / "in"
    hospital, patient, station = "서울대학교병원", "患者0001", "撮影室1"
    for name, charset in (("none.dcm", None), ("ir6.dcm", "ISO_IR 6")):
        _cr(src / name, study=f"8.{len(name)}", SpecificCharacterSet=charset,
            InstitutionName=hospital.encode(), PatientID=patient.encode(),
            StationName=station.encode())  # fmt: skip
    assert hospital.encode() in (src / "none.dcm").read_bytes()
    data = tmp_path / "data"
    settings = Settings(data_dir=data, site_map={hospital: "Seoul"})

    summary = ingest_dicom(data, [src], settings=settings)

    assert summary.ok
    pid = pseudonymise(load_key(data), patient)  # as the same id in a predictions file
    studies = _studies(data)
    for uid in ("8.8", "8.7"):
        row = studies[uid]
        assert (row[0], row[1], row[6], row[11]) == ("Seoul", hospital, station, pid)


def test_files_loaded_under_older_reading_rules_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    _cr(src / "1.dcm", study="8.1")
    data = tmp_path / "data"
    first = ingest_dicom(data, [src])
    monkeypatch.setattr(dicom_module, "READING_RULES", dicom_module.READING_RULES + 1)
    again = ingest_dicom(data, [src])
    assert (again.status, again.batch_id, again.unchanged) == ("committed", first.batch_id + 1, 1)
    assert ingest_dicom(data, [src]).status == "unchanged"


def test_redaction_hides_whole_ids_and_names_not_their_fragments(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _cr(src / "scans" / "1.dcm", study="9.1", PatientID="2026-00042", PatientName="PHANTOM^MR")
    _cr(src / "scans" / "2.dcm", study="9.2", PatientID="P55", PatientName="LI^NA")
    folders = [
        "2026-10",  # a month, not the id 2026-00042
        "MR",  # a modality, not the phantom PHANTOM^MR
        "P55A",  # another id
        "NA",  # one short part of LI^NA
        "2026-00042",  # the id
        "X_2026-00042_Y",  # the id inside a longer word
        "P55 scans",  # a short id as a word
        "PHANTOM",  # a name component of 3 letters or more
        "LI_NA-2",  # every part of the name LI^NA
    ]
    for folder in folders:
        (src / folder).mkdir()
        (src / folder / "notes.txt").write_text("x")

    summary = ingest_dicom(tmp_path / "data", [src])

    assert summary.files_read == 2
    assert sorted(rel for rel, _ in summary.skipped) == sorted(
        [f"{f}/notes.txt" for f in folders[:4]] + [f"<patient {n}>/notes.txt" for n in range(1, 6)]
    )


def test_every_path_is_counted_and_a_cut_file_or_archive_is_called_so(tmp_path: Path) -> None:
    src = tmp_path / "in"
    raw = _cr(tmp_path / "whole.dcm", study="10.1").read_bytes()
    meta_end = 144 + int.from_bytes(raw[140:144], "little")  # after (0002,0000)'s value
    (src / "cut").mkdir(parents=True)
    (src / "cut" / "in-meta.dcm").write_bytes(raw[: meta_end - 20])
    study_uid_at = raw.index(b"\x20\x00\x0d\x00")
    (src / "cut" / "before-uid.dcm").write_bytes(raw[:study_uid_at])
    (src / "no-preamble.dcm").write_bytes(raw[132:])  # file meta first, no preamble or 'DICM'
    with zipfile.ZipFile(tmp_path / "study.zip", "w") as zf:
        zf.writestr("a.dcm", raw)
        zf.writestr("b.dcm", raw)
    zipped = (tmp_path / "study.zip").read_bytes()
    (src / "study.zip").write_bytes(zipped[: len(zipped) // 2])
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src, tmp_path / "absent"])

    assert list(_studies(data)) == ["10.1"]
    assert summary.skipped == [
        (str(tmp_path / "absent"), "no such file or folder"),
        (
            "cut/before-uid.dcm",
            "truncated: the file ends after element (0018,1020), before the StudyInstanceUID "
            "(0020,000D)",
        ),
        (
            "cut/in-meta.dcm",
            f"truncated: the file ends inside its file meta information ({meta_end - 20} "
            f"bytes; the file meta alone declares {meta_end})",
        ),
        (
            "study.zip",
            "a damaged ZIP archive (cut short or corrupt: its list of files cannot be read)",
        ),
    ]
    assert summary.message.endswith(
        ": 1 study from 1 of 5 file(s): 1 new, 0 updated, 0 unchanged; 4 file(s) skipped"
    )


CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.22"  # Enhanced SR, as an AI product's findings
AI_SR = {
    "Modality": "SR",
    "SOPClassUID": SR_CLASS,
    "Manufacturer": "AIVendor",
    "ManufacturerModelName": "AI-Server",
    "SoftwareVersions": "9.9",
    "StationName": "AISRV",
    "InstitutionName": "AIVENDOR CLOUD",
}


def test_a_later_call_of_only_ai_objects_fills_the_stored_study_but_replaces_nothing(
    tmp_path: Path,
) -> None:
    _cr(tmp_path / "img" / "ct.dcm", study="1.2.3.700", Modality="CT", SOPClassUID=CT_IMAGE,
        Manufacturer="GE MEDICAL SYSTEMS", ManufacturerModelName="Revolution",
        StationName="CT01", BodyPartExamined=None, PatientAge=None)  # fmt: skip
    _cr(tmp_path / "sr" / "sr.dcm", study="1.2.3.700", **AI_SR)
    data = tmp_path / "data"
    ingest_dicom(data, [tmp_path / "img"])

    later = ingest_dicom(data, [tmp_path / "sr"])

    # the report only fills what the images left empty: body part and age
    assert (later.inserted, later.updated, later.unchanged) == (0, 1, 0)
    row = _studies(data)["1.2.3.700"]
    assert row[:10] == (
        "OSAKA UNIV HOSP",
        "OSAKA UNIV HOSP",
        "CT",
        "GE MEDICAL SYSTEMS",
        "Revolution",
        "1.0",
        "CT01",
        "CHEST",
        datetime(2026, 10, 3, 14, 20),
        45,
    )
    # the same with the images and the report in one call, the report sorted first
    both = tmp_path / "both"
    both.mkdir()
    shutil.copy(tmp_path / "sr" / "sr.dcm", both / "0-sr.dcm")
    shutil.copy(tmp_path / "img" / "ct.dcm", both / "1-ct.dcm")
    ingest_dicom(tmp_path / "data2", [both])
    assert _studies(tmp_path / "data2")["1.2.3.700"] == row


def test_ai_objects_do_not_replace_the_modality_a_predictions_file_gave(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _load_predictions(data, "1.2.3.701,PID-777001,Osaka,2026-10-03T14:20:00,CR,ptx,m,1,0.5")
    _cr(tmp_path / "sr" / "sr.dcm", study="1.2.3.701", **AI_SR)

    summary = ingest_dicom(data, [tmp_path / "sr"])

    assert summary.ok and summary.updated == 1
    row = _studies(data)["1.2.3.701"]
    # what the prediction row gave stays; what it left empty is filled from the report
    assert (row[0], row[2], row[8]) == ("Osaka", "CR", datetime(2026, 10, 3, 14, 20))
    assert (row[1], row[3], row[6], row[7]) == ("AIVENDOR CLOUD", "AIVendor", "AISRV", "CHEST")


def test_going_back_to_an_earlier_site_map_reads_the_files_again(tmp_path: Path) -> None:
    _cr(tmp_path / "in" / "1.dcm", study="7.3", InstitutionName="OSAKA UNIV HOSP")
    data = tmp_path / "data"
    map_a = Settings(data_dir=data, site_map={"OSAKA UNIV HOSP": "Osaka University Hospital"})
    map_b = Settings(data_dir=data, site_map={"OSAKA UNIV HOSP": "Osaka Univ"})
    first = ingest_dicom(data, [tmp_path / "in"], settings=map_a)
    ingest_dicom(data, [tmp_path / "in"], settings=map_b)
    assert _studies(data)["7.3"][0] == "Osaka Univ"

    back = ingest_dicom(data, [tmp_path / "in"], settings=map_a)

    assert (back.status, back.batch_id, back.updated) == ("committed", first.batch_id + 2, 1)
    assert _studies(data)["7.3"][0] == "Osaka University Hospital"
    again = ingest_dicom(data, [tmp_path / "in"], settings=map_a)
    assert (again.status, again.batch_id) == ("unchanged", back.batch_id)
    con = store.open_snapshot(data)
    try:
        hashes = [h for (h,) in con.execute("select content_hash from ingest_batches").fetchall()]
    finally:
        con.close()
    # <files>+<reading>: the same files under three readings, the first and last alike
    assert len({h.split("+")[0] for h in hashes}) == 1
    assert [len(h.split("+")[1]) for h in hashes] == [16, 16, 16]
    assert hashes[0] == hashes[2] != hashes[1]


def test_a_new_site_is_counted_only_when_the_stored_site_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _load_predictions(
        data,
        "7.5,PID-777001,Osaka,2026-10-03T14:20:00,CR,ptx,m,1,0.5",
        "7.6,PID-777001,Osaka,2026-10-03T14:20:00,CR,ptx,m,1,0.5",
    )
    # 7.5: an InstitutionName no map renames, which keeps the prediction file's site;
    # 7.6: a mapped one, which replaces it
    _cr(tmp_path / "in" / "1.dcm", study="7.5", InstitutionName="SOMEWHERE ELSE")
    _cr(tmp_path / "in" / "2.dcm", study="7.6", InstitutionName="OSAKA UNIV HOSP")
    settings = Settings(data_dir=data, site_map={"OSAKA UNIV HOSP": "Osaka University Hospital"})

    summary = ingest_dicom(data, [tmp_path / "in"], settings=settings)

    assert summary.message == (
        f"{tmp_path / 'in'}: batch 2: 2 studies from 2 of 2 file(s): "
        "0 new, 2 updated (1 with a new site), 0 unchanged; 0 file(s) skipped; "
        "1 InstitutionName(s) not in the [site_map]"
    )
    assert summary.unmapped == ["SOMEWHERE ELSE"]
    studies = _studies(data)
    assert (studies["7.5"][:2], studies["7.6"][:2]) == (
        ("Osaka", "SOMEWHERE ELSE"),
        ("Osaka University Hospital", "OSAKA UNIV HOSP"),
    )


def test_a_latest_link_to_a_folder_also_walked_is_no_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _cr(src / "real" / "a.dcm", study="6.4")
    (src / "latest").symlink_to("real")  # as PACS exports keep the newest export
    (src / "real" / "again").symlink_to("..")  # and a loop, which leaves nothing unread either
    data = tmp_path / "data"

    first = ingest_dicom(data, [src])

    assert (first.files_read, first.studies, first.folders, first.skipped) == (1, 1, [], [])
    assert first.notes == [
        ("real/again", "a link to a folder that holds it (a loop); not followed")
    ]
    assert first.ok
    assert first.message == (
        f"{src}: batch 1: 1 study from 1 of 1 file(s): 1 new, 0 updated, 0 unchanged; "
        "0 file(s) skipped"
    )
    again = ingest_dicom(data, [src])
    assert (again.status, again.ok) == ("unchanged", True)
    assert again.render().splitlines()[0] == (
        f"{src}: 1 file(s) already loaded as batch 1 (same content); nothing changed"
    )
    con = store.open_snapshot(data)
    try:
        assert con.execute("select count(*) from quarantine").fetchall() == [(0,)]
    finally:
        con.close()


def test_a_short_patient_id_is_hidden_between_punctuation_but_not_in_a_longer_id(
    tmp_path: Path,
) -> None:
    src = tmp_path / "in"
    _cr(src / "scans" / "1.dcm", study="9.3", PatientID="P55", PatientName="ITO^AI")
    _cr(src / "scans" / "2.dcm", study="9.4", PatientID="2026-00042", PatientName="ITO^AI")
    hidden = ["P55-CT", "CT.P55", "x_P55_y", "(P55)"]
    shown = ["P55A", "XP55", "P551-CT", "2026-10", "2026-00"]
    for folder in hidden + shown:
        (src / folder).mkdir()
        (src / folder / "notdicom.txt").write_text("x")
    (src / "P55.dcm").write_text("not DICOM")  # a file named after the id
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    assert summary.files_read == 2
    assert sorted(rel for rel, _ in summary.skipped) == sorted(
        [f"{f}/notdicom.txt" for f in shown]
        # numbered in code point order: (P55), CT.P55, P55-CT, P55.dcm, x_P55_y; a file named
        # after the id keeps its extension
        + [f"<patient {n}>/notdicom.txt" for n in (1, 2, 3, 5)]
        + ["<patient 4>.dcm"]
    )
    con = store.open_snapshot(data)
    try:
        stored = [f for (f,) in con.execute("select file_name from quarantine").fetchall()]
    finally:
        con.close()
    assert sorted(stored) == sorted(rel for rel, _ in summary.skipped)  # as shown, redacted


def test_files_naming_another_patient_than_the_stored_one_are_reported_and_it_is_kept(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    _load_predictions(data, "5.4,P-AAA1,Osaka,2026-10-03T14:20:00,CR,ptx,m,1,0.5")
    _cr(tmp_path / "first" / "1.dcm", study="5.5", PatientID="P-AAA1")
    ingest_dicom(data, [tmp_path / "first"])
    _cr(tmp_path / "in" / "1.dcm", study="5.4", PatientID="P-BBB2")  # after predictions
    _cr(tmp_path / "in" / "2.dcm", study="5.5", PatientID="P-BBB2")  # after DICOM
    _cr(tmp_path / "in" / "3.dcm", study="5.6", PatientID="P-BBB2")  # a new study

    summary = ingest_dicom(data, [tmp_path / "in"])

    assert not summary.ok
    kept = (
        "the study keeps the stored patient (check the PatientID of its files and of its "
        "earlier sources)"
    )
    assert summary.render().splitlines()[:3] == [
        f"{tmp_path / 'in'}: batch 3: 3 studies from 3 of 3 file(s): 1 new, 1 updated, "
        "1 unchanged; 0 file(s) skipped; 2 studies whose files name another patient than the "
        "one stored",
        f"  study 5.4: its files name another patient than the one stored; {kept}",
        f"  study 5.5: its files name another patient than the one stored; {kept}",
    ]
    assert "P-AAA1" not in summary.render() and "P-BBB2" not in summary.render()
    key = load_key(data)
    studies = _studies(data)
    assert [studies[uid][11] for uid in ("5.4", "5.5", "5.6")] == [
        pseudonymise(key, "P-AAA1"),
        pseudonymise(key, "P-AAA1"),
        pseudonymise(key, "P-BBB2"),
    ]
    # the other fields of 5.4 merged as usual: the header filled what the predictions left empty
    assert (studies["5.4"][0], studies["5.4"][3]) == ("Osaka", "FUJIFILM")


def test_a_batch_left_unpublished_is_published_by_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DICOM ingest killed after its commit and before publishing: the rerun found the files
    loaded and published nothing, so the snapshot never had their studies (a QA tester)."""
    data, src = tmp_path / "data", _folder(tmp_path / "in")
    real = store.publish_snapshot

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "publish_snapshot", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest_dicom(data, [src])
    monkeypatch.setattr(store, "publish_snapshot", real)
    assert not store.snapshot_path(data).exists()
    again = ingest_dicom(data, [src])
    assert again.status == "unchanged"
    assert again.render().splitlines()[0].endswith(f"; {store.CAUGHT_UP}")
    assert again.snapshot_id is not None and derived.cases_current(data)
    con = store.open_snapshot(data)
    try:
        assert con.execute("select count(*) from studies").fetchall() == [(3,)]
    finally:
        con.close()
    assert ingest_dicom(data, [src]).snapshot_id is None  # caught up: nothing more to publish


def test_a_lower_case_modality_is_stored_as_its_code(tmp_path: Path) -> None:
    """A tester's file with Modality 'ct' was stored as 'ct' (a prediction file's 'ct' is CT),
    so its study was another modality's than the same study's predictions."""
    src = tmp_path / "in"
    src.mkdir()
    _cr(src / "1.dcm", Modality="ct")
    _cr(src / "2.dcm", study="1.2.3.4.200", Modality="Mr ")
    data = tmp_path / "data"
    ingest_dicom(data, [src], publish=False)
    con = store.connect_working(data)
    try:
        rows = con.execute("select study_uid, modality from studies order by 1").fetchall()
    finally:
        con.close()
    assert rows == [("1.2.3.4.100", "CT"), ("1.2.3.4.200", "MR")]
