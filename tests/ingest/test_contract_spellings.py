"""Spellings a tester's hospital files use that the contract refused or missed: person columns
named in full-width letters or as record numbers (mr_number, hosp_no, empi, accno) were stored;
a DICOM age string (045Y), a sex written out (Male) or a Y/N ai_assisted sent the whole row,
score included, to quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.contract import names_a_person
from ingest.dicom_values import parse_age
from ingest.load import ingest_files
from radqa.errors import ConfigError
from radqa.settings import load_settings
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write

# Japanese Excel writes ＩＤ and ＭＲＮ full-width; hospital systems name record numbers
# and staff so
PERSON_COLUMNS = [
    "患者ＩＤ", "ＭＲＮ", "Ｐａｔｉｅｎｔ　Ｎａｍｅ", "ﾌﾘｶﾞﾅ", "mr_number", "MRNumber", "hosp_no",
    "HospNo", "technician_name", "tech_id", "forename", "patient_pid", "reader_pid", "empi",
    "mpi_id", "emr_id", "ur_number", "URNO", "unit_number", "unit_no", "accno", "ACCNO",
    # a tester's European export: kept in `extra` before
    "Befunder", "Geburtsdatum", "zip_code", "Postal Code", "Vorname", "Nachname",
    "Patientennummer", "date_de_naissance", "prénom", "Médecin", "fecha_nacimiento",
    "Apellido",
]  # fmt: skip
# ordinary clinical and technical columns that share a word with those
KEPT_COLUMNS = [
    "unit", "units", "dose_unit", "unit_id", "unit_of_measure", "number_of_images",
    "technique", "technique_name", "tech_notes", "reader_confidence", "model_id", "station",
    "protocol_name", "mr_sequence", "mr_protocol", "mpi", "mpi_result", "emr_source",
    "series_number", "instance_number", "ct_number", "ＭＲ撮影条件", "ｐｒｏｔｏｃｏｌ",
    "Befund", "befund_text", "Untersuchung", "Geraet", "code_postal_site", "dose_code",
]  # fmt: skip


@pytest.mark.parametrize("column", PERSON_COLUMNS)
def test_column_names_that_identify_a_person_are_taken_for_one(column: str) -> None:
    assert names_a_person(column) is True


@pytest.mark.parametrize("column", KEPT_COLUMNS)
def test_ordinary_column_names_are_not_taken_for_a_person(column: str) -> None:
    assert names_a_person(column) is False


def test_full_width_and_record_number_columns_are_not_stored(
    data_dir: Path, tmp_path: Path
) -> None:
    """An accession number next to study_uid is a second key to the patient's exam in the RIS:
    study_uid is kept because it is the join key, the extra copy is not."""
    extras = "患者ＩＤ,ＭＲＮ,hosp_no,accno,empi,unit,technique"
    row = "1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.4,KANJA-4411,MRN-7302,HN-5150,ACC-9917,EMPI-66,mm,PA"
    path = write(tmp_path / "p.csv", f"{PRED_HEADER},{extras}\n{row}")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 1, 0)
    assert result.message.endswith(
        "; not stored: column(s) '患者ｉｄ', 'ｍｒｎ', 'hosp_no', 'accno', 'empi' (their names "
        "say they identify a person; of the ids, only patient_id and reader_id are kept, as "
        "pseudonyms)"
    )
    [(extra,)] = snapshot_rows(data_dir, "select extra from predictions")
    assert json.loads(extra) == {"unit": "mm", "technique": "PA"}
    raw = (b"KANJA-4411", b"MRN-7302", b"HN-5150", b"ACC-9917", b"EMPI-66")
    assert files_holding(data_dir, *raw) == []


def test_extra_columns_listing_a_full_width_person_column_is_refused(data_dir: Path) -> None:
    (data_dir / "radqa.toml").write_text('extra_columns = ["protocol", "ＭＲＮ"]\n')
    with pytest.raises(ConfigError) as err:
        load_settings(data_dir)
    assert str(err.value) == (
        f"{data_dir / 'radqa.toml'}: extra_columns holds 'ＭＲＮ', whose name says it "
        "identifies a person: such a column is never stored (of the ids, only patient_id and "
        "reader_id are kept, as pseudonyms); remove it from the list"
    )


# (patient_age, patient_sex) as written, and as stored
SPELLINGS = [
    ("045Y", "Male", 45, "M"),
    ("006M", "female", 0, "F"),
    ("003W", "OTHER", 0, "O"),
    ("010D", "Unknown", 0, "U"),
    ("045y", "m", 45, "M"),
    ("024M", "f", 2, "F"),
    ("5 Y", "o", 5, "O"),
    ("130Y", "u", 130, "U"),
    ("70", "F", 70, "F"),
]


def _prediction(i: int, age: str, sex: str) -> dict[str, str]:
    return {
        "study_uid": f"1.2.{i}", "patient_id": f"P{i}", "site": "Osaka",
        "study_datetime": "2026-10-01", "modality": "CR", "finding": "ptx", "model_name": "M",
        "model_version": "1", "score": "0.4", "patient_age": age, "patient_sex": sex,
    }  # fmt: skip


def _write_predictions(tmp_path: Path, fmt: str, rows: list[dict[str, str]]) -> Path:
    path = tmp_path / f"p.{fmt}"
    if fmt == "csv":
        lines = [",".join(rows[0]), *(",".join(r.values()) for r in rows)]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_dicom_age_strings_and_written_out_sexes_load(
    data_dir: Path, tmp_path: Path, fmt: str
) -> None:
    rows = [_prediction(i, age, sex) for i, (age, sex, _, _) in enumerate(SPELLINGS)]
    [result] = ingest_files(data_dir, "predictions", [_write_predictions(tmp_path, fmt, rows)])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 9, 0)
    stored = snapshot_rows(
        data_dir,
        "select s.patient_age, s.patient_sex, p.score from predictions p "
        "join studies s using (study_uid) order by study_uid",
    )
    assert stored == [(age, sex, 0.4) for _, _, age, sex in SPELLINGS]


def test_the_age_rule_is_dicom_ingests() -> None:
    """CSV and DICOM ingest read an Age String alike (the rule is one)."""
    strings = SPELLINGS[:-1]  # the last is plain years, not an Age String
    assert [parse_age(a) for a, _, _, _ in strings] == [a for _, _, a, _ in strings]
    assert [parse_age(a) for a in ("364D", "365D", "366D", "52W", "53W", "11M", "12M")] == [
        0, 0, 1, 0, 1, 0, 1
    ]  # fmt: skip


def test_other_ages_and_sexes_are_still_quarantined_with_the_forms_expected(
    data_dir: Path, tmp_path: Path
) -> None:
    bad = [("045", "X"), ("45.5Y", "M"), ("131Y", "M"), ("045YY", "man"), ("12", "F")]
    rows = [_prediction(i, age, sex) for i, (age, sex) in enumerate(bad)]
    [result] = ingest_files(data_dir, "predictions", [_write_predictions(tmp_path, "csv", rows)])
    assert (result.inserted, result.quarantined) == (1, 4)
    age = (
        "expected whole years between 0 and 130, or a DICOM age string such as 045Y, 006M, "
        "003W or 010D"
    )
    sex = "expected M, F, O or U (or male, female, other, unknown)"
    assert result.reasons == [
        f"p.csv: row 1: column 'patient_sex' is 'X'; {sex}",
        f"p.csv: row 2: column 'patient_age' is '45.5Y'; {age}",
        f"p.csv: row 3: column 'patient_age' is '131Y'; {age}",
        f"p.csv: row 4: column 'patient_age' is '045YY'; {age}; column 'patient_sex' is 'man'; "
        f"{sex}",
    ]
    assert snapshot_rows(data_dir, "select patient_age, patient_sex from studies") == [(12, "F")]


def test_ai_assisted_reads_the_common_boolean_spellings(data_dir: Path, tmp_path: Path) -> None:
    spellings = ["Y", "N", "y", "n", "t", "f", "T", "F", "yes", "No", "TRUE", "false", "1", "0"]
    rows = [f"1.2.{i},ptx,RAD-A,1,2026-10-04,primary,,{v},arm{i}" for i, v in enumerate(spellings)]
    rows.append("1.2.99,ptx,RAD-A,1,2026-10-04,primary,,maybe,")
    header = f"{READ_HEADER},read_role,rating,ai_assisted,arm"
    [result] = ingest_files(
        data_dir, "reads", [write(tmp_path / "r.csv", "\n".join([header, *rows]))]
    )
    assert (result.inserted, result.quarantined) == (14, 1)
    assert result.reasons == [
        "r.csv: row 15: column 'ai_assisted' is 'maybe'; expected true or false"
    ]
    stored = snapshot_rows(data_dir, "select ai_assisted from reads order by study_uid")
    order = sorted(range(len(spellings)), key=lambda i: f"1.2.{i}")
    truth = {"y": True, "n": False, "t": True, "f": False, "yes": True, "no": False,
             "true": True, "false": False, "1": True, "0": False}  # fmt: skip
    assert stored == [(truth[spellings[i].lower()],) for i in order]
