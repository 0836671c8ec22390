"""A DICOM header field that holds a patient or reader id is not stored (a tester: a PatientID
in InstitutionName, StationName or SoftwareVersions became a site, station or software version
in the studies table, the snapshot, the dashboard and the report, where the same value in a
predictions file's site is quarantined). The rule is a file's: a value that is or holds one of
the call's own PatientIDs of 4 characters or more, or an id whose pseudonym the store holds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.dicom import ingest_dicom
from ingest.load import ingest_files
from ingest.pseudonym import KEY_ENV
from radqa.cli import main
from tests.test_dicom_media import _ct

NOT_STORED = (
    "not stored; a study takes the value of another of its files, else keeps the one it had"
)
COLUMNS = (
    "site, institution, station, scanner_manufacturer, scanner_model, scanner_software, "
    "body_part, modality"
)


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-0123456789")


def _rows(data: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(data / "radqa.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _studies(data: Path) -> dict[str, tuple[object, ...]]:
    return {r[0]: r[1:] for r in _rows(data, f"select study_uid, {COLUMNS} from studies")}


def _everything(data: Path) -> str:
    """Every text the store holds of the studies, batches and quarantine, as one string."""
    tables = (
        f"select concat_ws('|', study_uid, {COLUMNS}) from studies",
        "select concat_ws('|', file_name, message) from ingest_batches",
        "select concat_ws('|', file_name, column_name, reason, raw) from quarantine",
    )
    return "\n".join(str(v) for sql in tables for (v,) in _rows(data, sql))


def test_header_fields_holding_a_patient_id_of_the_call_are_not_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tester's files: one patient's id as the InstitutionName and in the StationName of
    their own study, and as the StationName of another patient's study, whose
    SoftwareVersions is its own patient's id. Loading them again says so again."""
    src, data = tmp_path / "dcm", tmp_path / "data"
    _ct(
        src / "a.dcm",
        "1.2.999.1",
        PatientID="PATDCM777",
        InstitutionName="PATDCM777",
        StationName="ST PATDCM777",
    )
    _ct(
        src / "b.dcm",
        "1.2.999.2",
        PatientID="PATDCM778",
        InstitutionName="Osaka",
        StationName="patdcm777",  # in another case
        SoftwareVersions="PATDCM778",
    )
    args = ["--data-dir", str(data), "ingest", "dicom", str(src)]

    assert main(args) == 1  # as a file's rows holding an id: something to mend at the source
    out = capsys.readouterr()
    lines = [
        f"  SoftwareVersions holds a patient or reader id (not shown) in 1 file of 1 study "
        f"(1.2.999.2): {NOT_STORED}",
        f"  StationName holds a patient or reader id (not shown) in 2 files of 2 studies "
        f"(1.2.999.1, 1.2.999.2): {NOT_STORED}",
        f"  InstitutionName holds a patient or reader id (not shown) in 1 file of 1 study "
        f"(1.2.999.1): {NOT_STORED}",
    ]
    assert out.out.splitlines()[:4] == [
        f"{src}: batch 1: 2 studies from 2 of 2 file(s): 2 new, 0 updated, 0 unchanged; "
        "0 file(s) skipped; 2 studies with a patient or reader id (not shown) in "
        "SoftwareVersions, StationName, InstitutionName: not stored (listed below)",
        *lines,
    ]
    assert out.err == ""
    assert _studies(data) == {
        "1.2.999.1": (None, None, None, "TOSHIBA", "Aquilion ONE", "V8", None, "CT"),
        "1.2.999.2": ("Osaka", "Osaka", None, "TOSHIBA", "Aquilion ONE", None, None, "CT"),
    }
    assert _rows(data, "select column_name from quarantine order by rowid") == [
        ("SoftwareVersions",),
        ("StationName",),
        ("InstitutionName",),
    ]

    assert main(args) == 1
    again = capsys.readouterr().out.splitlines()
    assert again[:4] == [
        f"{src}: 2 file(s) already loaded as batch 1 (same content); nothing changed; 3 of its "
        "header fields held a patient or reader id (not shown) when it was loaded, not stored "
        "(listed below; see quarantine)",
        *lines,
    ]
    assert "patdcm77" not in (_everything(data) + out.out + "\n".join(again)).lower()


# a CS value (BodyPartExamined) with a hyphen or in lower case, as headers may hold them
_INVALID_CS = "ignore:Invalid value for VR CS"


@pytest.mark.filterwarnings(_INVALID_CS)
def test_a_study_takes_another_files_value_or_keeps_the_stored_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _ct(tmp_path / "first" / "s2.dcm", "7.2", StationName="CT01", BodyPartExamined="CHEST")
    ingest_dicom(data, [tmp_path / "first"])

    src = tmp_path / "second"
    _ct(src / "a.dcm", "7.1", StationName="PID-313131")  # the patient's own id
    _ct(src / "b.dcm", "7.1", StationName="CT02")
    _ct(src / "c.dcm", "7.2", StationName="CT PID-313131", BodyPartExamined="pid-313131")
    summary = ingest_dicom(data, [src])

    assert (summary.updated, summary.inserted, summary.withheld_studies, summary.ok) == (
        0,
        1,
        2,
        False,
    )
    assert summary.withheld == [
        f"StationName holds a patient or reader id (not shown) in 2 files of 2 studies "
        f"(7.1, 7.2): {NOT_STORED}",
        f"BodyPartExamined holds a patient or reader id (not shown) in 1 file of 1 study "
        f"(7.2): {NOT_STORED}",
    ]
    studies = _studies(data)
    assert studies["7.1"][2] == "CT02"  # b.dcm's: a.dcm's station held the id
    assert (studies["7.2"][2], studies["7.2"][6]) == ("CT01", "CHEST")  # kept from the first call


@pytest.mark.filterwarnings(_INVALID_CS)
def test_an_id_the_store_knows_is_not_stored(tmp_path: Path) -> None:
    """A reader's id (from a reads file) and a patient's (from a predictions file) typed into
    headers of a later call, whose own PatientIDs are others."""
    data = tmp_path / "data"
    reads = tmp_path / "reads.csv"
    reads.write_text(
        "study_uid,finding,reader_id,label,read_datetime\n5.1,nodule,RDR-4455,1,2026-10-01\n"
    )
    preds = tmp_path / "preds.csv"
    preds.write_text(
        "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,"
        "score\n5.1,MRN-0099,Osaka,2026-10-01,CT,nodule,M,1,0.5\n"
    )
    ingest_files(data, "reads", [reads])
    ingest_files(data, "predictions", [preds])

    src = tmp_path / "dcm"
    _ct(src / "a.dcm", "7.5", BodyPartExamined="RDR-4455", StationName="mrn-0099_ct")
    _ct(src / "b.dcm", "7.6", ManufacturerModelName="Aquilion (MRN-0099)")
    summary = ingest_dicom(data, [src])

    assert [line.split(" holds")[0] for line in summary.withheld] == [
        "ManufacturerModelName",
        "StationName",
        "BodyPartExamined",
    ]
    studies = _studies(data)
    assert studies["7.5"] == ("OSAKA UNIV HOSP", "OSAKA UNIV HOSP", None, "TOSHIBA",
                              "Aquilion ONE", "V8", None, "CT")  # fmt: skip
    assert studies["7.6"][2:5] == ("CT01", "TOSHIBA", None)
    text = _everything(data).lower()
    assert "rdr-4455" not in text and "mrn-0099" not in text


def test_short_ids_and_ids_glued_to_other_text_are_stored(tmp_path: Path) -> None:
    """As in a file: an id of fewer than 4 characters is not looked for (P12 would hide every
    'P12' station), nor one glued to letters (software V4455 of patient 4455)."""
    src, data = tmp_path / "dcm", tmp_path / "data"
    _ct(src / "a.dcm", "7.7", PatientID="P12", StationName="P12")
    _ct(src / "b.dcm", "7.8", PatientID="4455", SoftwareVersions="V4455")
    summary = ingest_dicom(data, [src])
    assert (summary.withheld, summary.ok) == ([], True)
    studies = _studies(data)
    assert (studies["7.7"][2], studies["7.8"][5]) == ("P12", "V4455")


def test_a_scanner_holding_an_id_is_not_named_in_the_list_of_studies_of_two_scanners(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A study whose images name two scanners is listed with their names, on the first load
    and again on a later one: the one whose model holds the patient's id is shown without it."""
    src, data = tmp_path / "dcm", tmp_path / "data"
    _ct(src / "a.dcm", "7.9", Manufacturer="SIEMENS", ManufacturerModelName="Force PID-313131")
    _ct(src / "b.dcm", "7.9")
    _ct(src / "c.dcm", "7.9")
    args = ["--data-dir", str(data), "ingest", "dicom", str(src)]
    scanners = (
        "  study 7.9: its files name 2 scanners (TOSHIBA Aquilion ONE: 2 files, SIEMENS ?: "
        "1 file); the study takes TOSHIBA Aquilion ONE"
    )
    assert main(args) == 1
    first = capsys.readouterr().out
    assert main(args) == 1
    again = capsys.readouterr().out
    assert scanners in first.splitlines() and scanners in again.splitlines()
    assert "313131" not in first + again + _everything(data)
