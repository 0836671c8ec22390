"""DICOM headers whose text is in a character set they do not declare and that is not UTF-8:
Shift-JIS (cp932) from older Japanese modalities, EUC-KR (cp949) from Korean ones. Read as
Latin-1 (and said so) without ``--encoding``; in the given encoding with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file

from ingest.dicom import ingest_dicom
from ingest.load import ingest_files
from ingest.pseudonym import KEY_ENV, load_key, pseudonymise
from radqa.cli import main
from radqa.settings import Settings

from .ingest.conftest import PRED_HEADER
from .test_dicom import _studies

# 大阪大学医学部附属病院
OSAKA = "\u5927\u962a\u5927\u5b66\u533b\u5b66\u90e8\u9644\u5c5e\u75c5\u9662"
NOTO = "\u80fd\u767b\u7dcf\u5408\u75c5\u9662"  # 能登総合病院: 能 is 0x94 0x5C in Shift-JIS
SEOUL = "\uc11c\uc6b8\ub300\ud559\uad50\ubcd1\uc6d0"  # 서울대학교병원
PATIENT_JA = "\u60a3\u80050001"  # 患者0001
PATIENT_KO = "\ud658\uc7900001"  # 환자0001

# (codec, InstitutionName, PatientID): names in their system's code page, not valid UTF-8
LEGACY = [
    pytest.param("cp932", OSAKA, PATIENT_JA, id="japanese"),
    pytest.param("cp932", NOTO, PATIENT_JA, id="japanese-backslash-byte"),
    pytest.param("cp949", SEOUL, PATIENT_KO, id="korean"),
]


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-encoding-0123")


def _ct(
    path: Path,
    study: str,
    institution: str | bytes,
    patient_id: str | bytes = "CT-0001",
    charset: str | list[str] | None = None,
) -> Path:
    """pydicom's CT_small as study ``study``, with ``institution`` and ``patient_id`` (bytes are
    written as they are) and Specific Character Set ``charset`` (None: the element removed)."""
    ds = dcmread(get_testdata_file("CT_small.dcm"))  # declares ISO_IR 100
    del ds.SpecificCharacterSet
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.StudyInstanceUID = study
    ds.InstitutionName = institution
    ds.PatientID = patient_id
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)
    return path


def _legacy(path: Path, study: str, codec: str, institution: str, patient_id: str) -> Path:
    """A CT header that declares no character set, its InstitutionName and PatientID in
    ``codec``; checks that the file holds those bytes and no Specific Character Set."""
    name, pid = institution.encode(codec), patient_id.encode(codec)
    with pytest.raises(UnicodeDecodeError):
        name.decode("utf-8")
    _ct(path, study, name, pid)
    raw = path.read_bytes()
    assert name in raw and pid in raw
    assert "SpecificCharacterSet" not in dcmread(path)
    return path


def _note(count: int) -> str:
    return (
        f"; {count} file(s) hold text in an undeclared character set that is not UTF-8, read "
        "as Latin-1 (letters may be wrong): run again with --encoding cp932 (Japanese) or "
        "cp949 (Korean)"
    )


@pytest.mark.parametrize(("codec", "institution", "patient_id"), LEGACY)
def test_without_the_option_the_summary_counts_the_files_read_as_latin1(
    tmp_path: Path, codec: str, institution: str, patient_id: str
) -> None:
    src = tmp_path / "in"
    _legacy(src / "1.dcm", "5.1", codec, institution, patient_id)
    _legacy(src / "2.dcm", "5.2", codec, institution, patient_id)
    _ct(src / "3.dcm", "5.3", "KOBE CITY HOSP")  # ASCII: nothing to say
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src])

    assert summary.message == (
        f"{src}: batch 1: 3 studies from 3 of 3 file(s): 3 new, 0 updated, 0 unchanged; "
        f"0 file(s) skipped{_note(2)}"
    )
    assert summary.ok  # a note: the files were read
    studies = _studies(data)
    assert studies["5.1"][0] not in (institution, None)
    assert studies["5.1"][11] != pseudonymise(load_key(data), patient_id)
    # loading them again says it again
    again = ingest_dicom(data, [src])
    assert again.status == "unchanged"
    assert again.message.endswith(f"nothing changed{_note(2)}")


@pytest.mark.parametrize(("codec", "institution", "patient_id"), LEGACY)
def test_with_the_option_the_name_is_read_mapped_and_replaces_the_garbled_one(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    codec: str,
    institution: str,
    patient_id: str,
) -> None:
    src = _legacy(tmp_path / "in" / "1.dcm", "6.1", codec, institution, patient_id)
    data = tmp_path / "data"
    data.mkdir()
    (data / "radqa.toml").write_text(f'[site_map]\n"{institution}" = "Hospital A"\n')
    assert main(["ingest", "dicom", "--data-dir", str(data), str(src)]) == 0
    garbled = _studies(data)["6.1"]
    assert garbled[:2] not in (("Hospital A", institution),)
    capsys.readouterr()

    # the same file with the option: read again (the encoding is part of the batch's hash)
    code = main(["ingest", "dicom", "--data-dir", str(data), "--encoding", codec, str(src)])

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == (
        f"{src}: batch 2: 1 study from 1 of 1 file(s): 0 new, 1 updated (1 with a new site), "
        "0 unchanged; 0 file(s) skipped"
    )
    row = _studies(data)["6.1"]
    assert (row[0], row[1]) == ("Hospital A", institution)
    assert row[11] == pseudonymise(load_key(data), patient_id)  # as in a predictions file
    again = main(["ingest", "dicom", "--data-dir", str(data), "--encoding", codec, str(src)])
    assert again == 0
    assert "already loaded as batch 2 (same content); nothing changed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("charset", "institution"),
    [
        pytest.param("ISO_IR 100", "H\u00f4pital de Gen\u00e8ve", id="latin1"),
        pytest.param(["", "ISO 2022 IR 149"], SEOUL, id="korean-iso2022"),
        pytest.param(["", "ISO 2022 IR 87"], OSAKA, id="japanese-iso2022"),
    ],
)
def test_a_declared_character_set_wins_over_the_option(
    tmp_path: Path, charset: str | list[str], institution: str
) -> None:
    src = _ct(tmp_path / "in" / "1.dcm", "7.1", institution, charset=charset)
    with pytest.raises(UnicodeDecodeError):
        src.read_bytes().decode("utf-8")  # written in the declared set, not UTF-8
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src], encoding="cp932")

    assert summary.ok, summary.render()
    assert _studies(data)["7.1"][:2] == (institution, institution)


def test_undeclared_utf8_is_still_read_as_utf8_with_the_option(tmp_path: Path) -> None:
    src = _ct(tmp_path / "in" / "1.dcm", "8.1", OSAKA.encode(), PATIENT_JA.encode())
    data = tmp_path / "data"
    settings = Settings(data_dir=data, site_map={OSAKA: "Osaka"})

    summary = ingest_dicom(data, [src], settings=settings, encoding="cp932")

    assert summary.ok
    assert summary.message == (
        f"{src}: batch 1: 1 study from 1 of 1 file(s): 1 new, 0 updated, 0 unchanged; "
        "0 file(s) skipped"
    )
    row = _studies(data)["8.1"]
    assert (row[0], row[1], row[11]) == ("Osaka", OSAKA, pseudonymise(load_key(data), PATIENT_JA))


def test_a_value_that_is_not_text_in_the_given_encoding_skips_its_file(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _legacy(src / "ja.dcm", "9.1", "cp932", OSAKA, PATIENT_JA)  # Shift-JIS is not cp949
    _legacy(src / "ko.dcm", "9.2", "cp949", SEOUL, PATIENT_KO)
    data = tmp_path / "data"

    summary = ingest_dicom(data, [src], encoding="cp949")

    assert summary.skipped == [
        (
            "ja.dcm",
            "cannot read the DICOM header: its InstitutionName is not cp949 text (--encoding) and "
            "the header declares no character set; load it with the encoding its system writes",
        )
    ]
    assert not summary.ok
    assert (summary.files_read, summary.studies) == (1, 1)
    assert _studies(data)["9.2"][:2] == (SEOUL, SEOUL)


@pytest.mark.parametrize("name", ["sjis-ish", "rot13"])  # rot13: a codec, not a text encoding
def test_an_unknown_encoding_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    src = _legacy(tmp_path / "in" / "1.dcm", "10.1", "cp932", OSAKA, PATIENT_JA)
    data = tmp_path / "data"

    code = main(["ingest", "dicom", "--data-dir", str(data), "--encoding", name, str(src)])

    assert code == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"radqa: error: unknown encoding '{name}'; expected the name of a text encoding such "
        "as cp932 (Japanese Windows), cp949 (Korean Windows), cp1252 or utf-8\n"
    )
    assert captured.out == ""
    assert not data.exists()


# 大阪大学病院 in Shift-JIS read as Latin-1, as a header that declares no character set is read
# without --encoding (a QA tester's file)
OSAKA_HOSPITAL = "\u5927\u962a\u5927\u5b66\u75c5\u9662"
OSAKA_HOSPITAL_LATIN1 = "\x91\xe5\x8d\xe3\x91\xe5\x8aw\x95a\x89@"


@pytest.mark.parametrize("site_map", [None, "Osaka"], ids=["unmapped", "mapped"])
def test_with_the_option_the_name_replaces_the_site_stored_as_its_latin1_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], site_map: str | None
) -> None:
    src = tmp_path / "in"
    _legacy(src / "1.dcm", "11.1", "cp932", OSAKA_HOSPITAL, PATIENT_JA)
    data = tmp_path / "data"
    data.mkdir()
    if site_map is not None:
        toml = f'[site_map]\n"{OSAKA_HOSPITAL}" = "{site_map}"\n'
        (data / "radqa.toml").write_text(toml, encoding="utf-8")
    assert main(["ingest", "dicom", "--data-dir", str(data), str(src)]) == 0
    row = _studies(data)["11.1"]
    assert (row[0], row[1]) == (OSAKA_HOSPITAL_LATIN1, OSAKA_HOSPITAL_LATIN1)  # not in the map
    capsys.readouterr()

    code = main(["ingest", "dicom", "--data-dir", str(data), "--encoding", "cp932", str(src)])

    assert code == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{src}: batch 2: 1 study from 1 of 1 file(s): 0 new, 1 updated (1 with a new site), "
        "0 unchanged; 0 file(s) skipped"
    )
    row = _studies(data)["11.1"]
    assert (row[0], row[1]) == (site_map or OSAKA_HOSPITAL, OSAKA_HOSPITAL)
    assert row[11] == pseudonymise(load_key(data), PATIENT_JA)


@pytest.mark.parametrize(("codec", "institution", "patient_id"), LEGACY)
def test_an_unmapped_name_read_in_the_option_replaces_its_own_latin1_reading_only(
    tmp_path: Path, codec: str, institution: str, patient_id: str
) -> None:
    """The stored site is replaced only when it is this InstitutionName read as Latin-1: a site
    a predictions file gave (or another InstitutionName's) is kept, as for any unmapped name."""
    ours = _legacy(tmp_path / "ours" / "1.dcm", "12.1", codec, institution, patient_id)
    theirs = _legacy(tmp_path / "theirs" / "1.dcm", "12.2", codec, institution, "CT-0002")
    data = tmp_path / "data"
    ingest_dicom(data, [ours])  # site: the name read as Latin-1
    preds = tmp_path / "p.csv"
    preds.write_text(
        f"{PRED_HEADER}\n12.2,CT-0002,Seoul North,2026-10-03T14:20:00,CT,ptx,M,1,0.5\n"
    )
    [loaded] = ingest_files(data, "predictions", [preds])
    assert loaded.ok, loaded.message
    ingest_dicom(data, [theirs])  # an unmapped name does not replace a predictions file's site
    assert _studies(data)["12.2"][0] == "Seoul North"

    summary = ingest_dicom(data, [ours, theirs], encoding=codec)

    assert summary.ok, summary.render()
    studies = _studies(data)
    assert (studies["12.1"][0], studies["12.1"][1]) == (institution, institution)
    assert (studies["12.2"][0], studies["12.2"][1]) == ("Seoul North", institution)


def test_a_file_not_text_in_the_option_is_skipped_without_pydicom_warnings(
    tmp_path: Path,
) -> None:
    """pydicom decodes such a value with replacement characters and warns on stderr, with its
    source paths; RadQA checks the text itself and says why the file is skipped. A separate
    process: pytest would catch the warnings before they reach stderr."""
    src = tmp_path / "in" / "ko.dcm"
    _legacy(src, "13.1", "cp949", SEOUL, "\uc11c\uc6b80001")  # 서울0001: not Shift-JIS either
    ds = dcmread(src)
    ds.PatientName = "\uae40\ucca0\uc218".encode("cp949")  # 김철수: not Shift-JIS either
    ds.save_as(src)
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # Python's defaults

    done = subprocess.run(
        [sys.executable, "-m", "radqa", "ingest", "dicom", "--data-dir", str(data)]
        + ["--encoding", "cp932", str(src)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert done.returncode == 1, done.stderr  # a file skipped
    assert done.stderr == (
        "skipped 1 file(s):\n"
        "  ko.dcm: cannot read the DICOM header: its PatientID is not cp932 text (--encoding) and "
        "the header declares no character set; load it with the encoding its system writes\n"
    )
    assert "UserWarning" not in done.stdout + done.stderr
    assert "site-packages" not in done.stdout + done.stderr


def test_a_patient_name_not_text_in_the_option_loads_without_pydicom_warnings(
    tmp_path: Path,
) -> None:
    """Only the PatientName (never stored; read to find the patient in a path) is not text in
    the encoding: the file loads, with no pydicom warning on stderr."""
    src = tmp_path / "in" / "ja.dcm"
    _legacy(src, "13.2", "cp932", OSAKA, PATIENT_JA)
    ds = dcmread(src)
    ds.PatientName = "\uae40\ucca0\uc218".encode("cp949")  # 김철수: not Shift-JIS
    ds.save_as(src)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # Python's defaults

    done = subprocess.run(
        [sys.executable, "-m", "radqa", "ingest", "dicom", "--data-dir", str(tmp_path / "data")]
        + ["--encoding", "cp932", str(src)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert ": 1 study from 1 of 1 file(s): 1 new, 0 updated, 0 unchanged; 0 file(s) skipped" in (
        done.stdout
    )
