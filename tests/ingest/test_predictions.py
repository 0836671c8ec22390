"""Ingest of prediction files: validation, quarantine, refusal, idempotence, corrections."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.contract import Column, names_a_person
from ingest.load import ingest_files
from radqa.cli import main
from radqa.errors import ConfigError
from radqa.settings import Settings, load_settings
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write

GOOD = f"""
{PRED_HEADER},scanner_model,patient_age,patient_sex,custom_note
1.2.1,P001,Osaka,2026-10-01T10:00:00,CR,pneumothorax,ChestXR,2.1,0.91,Ysio Max,54,M,note-a
1.2.2,P002,Osaka,2026-10-02,DX,pneumothorax,ChestXR,2.1,0.10,Ysio Max,40,f,note-b
1.2.3,P003,Kobe,2026-10-03T09:00:00+09:00,CT,intracranial_haemorrhage,CT-ICH,1.0,0.5,,,,
"""


def test_good_rows_load_with_types_extras_and_defaults(data_dir: Path, tmp_path: Path) -> None:
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "p.csv", GOOD)])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 3, 0)
    rows = snapshot_rows(
        data_dir,
        "select p.study_uid, score, predicted, threshold, threshold_source, extra, "
        "s.patient_sex, s.patient_age, s.study_datetime::varchar "
        "from predictions p join studies s using (study_uid) order by study_uid",
    )
    assert rows[0][:5] == ("1.2.1", 0.91, True, 0.5, "default")
    assert json.loads(rows[0][5]) == {"custom_note": "note-a"}
    assert rows[1][6] == "F"  # sex upper-cased
    # score 0.5 at the default threshold 0.5 is positive (score >= threshold)
    assert rows[2][2] is True
    # a time-zone offset keeps the site's wall-clock time
    assert rows[2][8] == "2026-10-03 09:00:00"


def test_bad_rows_are_quarantined_with_file_row_column_value(
    data_dir: Path, tmp_path: Path
) -> None:
    text = f"""
{PRED_HEADER},patient_age,patient_sex
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.9,50,M
1.2.2,P002,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,abc,50,M
1.2.3,P003,Osaka,yesterday,XX,pneumothorax,ChestXR,2.1,1.5,131,Q
1.2.4,,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.2,,
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "predictions.csv", text)])
    assert (result.inserted, result.quarantined) == (1, 3)
    assert result.reasons == [
        "predictions.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1",
        "predictions.csv: row 3: column 'study_datetime' is 'yesterday'; expected an ISO 8601 "
        "date or date-time after 1970-01-01 and before 2100, such as 2026-10-03, "
        "2026-10-03T14:20:00 or 20261003; column "
        "'modality' is "
        "'XX'; expected a DICOM modality code such as CR, DX, CT, MR, MG, US; column 'score' is "
        "'1.5'; expected a number between 0 and 1; column 'patient_age' is '131'; expected "
        "whole years between 0 and 130, or a DICOM age string such as 045Y, 006M, 003W or "
        "010D; column 'patient_sex' is 'Q'; expected M, F, O or U (or male, female, other, "
        "unknown)",
        "predictions.csv: row 4: column 'patient_id' is empty; expected text",
    ]
    q = snapshot_rows(
        data_dir, "select row_number, column_name, raw from quarantine order by row_number"
    )
    assert [(r[0], r[1]) for r in q] == [(2, "score"), (3, "study_datetime"), (4, "patient_id")]
    raw = json.loads(q[0][2])
    assert raw["score"] == "abc" and raw["study_uid"] == "1.2.2"
    assert "patient_id" not in raw and raw["patient_pid"] != "P002"  # pseudonym, not raw id


def test_missing_columns_refuse_the_file_and_list_what_was_found(
    data_dir: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "p.csv", "study_uid,site,Score\n1,Osaka,0.5")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.status == "refused"
    assert result.message == (
        "p.csv: missing required column(s): patient_id, study_datetime, modality, finding, "
        "model_name, model_version; columns found: study_uid, site, score"
    )
    assert snapshot_rows(data_dir, "select status from ingest_batches") == [("refused",)]
    # a reads file sent as predictions: the message says which command loads it
    reads = write(tmp_path / "r.csv", f"{READ_HEADER}\n1,f,DR1,1,2026-10-02")
    [wrong] = ingest_files(data_dir, "predictions", [reads])
    assert wrong.message.endswith("; it has the columns of a reads file: radqa ingest reads r.csv")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "empty.csv: the file is empty; expected a header row and data"),
        ("h.csv", PRED_HEADER.encode() + b"\n", "h.csv: the file has a header but no data rows"),
        (
            "p.xlsx",
            b"PK\x03\x04",
            "p.xlsx: cannot read files ending in '.xlsx'; expected CSV (.csv), Parquet "
            "(.parquet) or JSON Lines (.jsonl)",
        ),
        ("bad.parquet", b"not parquet at all", "bad.parquet: cannot be read as PARQUET"),
        (
            "latin1.csv",
            f"{PRED_HEADER}\n1,P1,K\u00f6ln,2026-10-01,CR,f,M,1,0.5\n".encode("latin-1"),
            "latin1.csv: cannot be read as CSV: near line 2: the bytes are not valid UTF-8 text; "
            "they read as Western European text in cp1252 (as Windows writes it): load it with "
            "--encoding cp1252, or save it as UTF-8",
        ),
    ],
)
def test_unreadable_files_are_refused_whole(
    data_dir: Path, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.status == "refused"
    assert result.message.startswith(expected)


def test_same_file_twice_changes_nothing_and_says_so(data_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", GOOD)
    ingest_files(data_dir, "predictions", [path])
    before = snapshot_rows(data_dir, "select * from predictions order by study_uid")
    [again] = ingest_files(data_dir, "predictions", [path])
    assert again.status == "unchanged"
    assert again.message == "p.csv: already loaded as batch 1 (same content); nothing changed"
    assert snapshot_rows(data_dir, "select * from predictions order by study_uid") == before
    assert snapshot_rows(data_dir, "select count(*) from ingest_batches") == [(1,)]


def test_same_file_twice_recalls_its_quarantined_rows(data_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", GOOD.replace(",0.10,", ",abc,"))
    [first] = ingest_files(data_dir, "predictions", [path])
    assert (first.inserted, first.quarantined) == (2, 1)
    [again] = ingest_files(data_dir, "predictions", [path])
    assert (again.status, again.quarantined) == ("unchanged", 0)
    assert again.message == (
        "p.csv: already loaded as batch 1 (same content); nothing changed; 1 of its rows is "
        "still in quarantine from that batch (Data health lists them): a corrected file loads them"
    )
    assert snapshot_rows(data_dir, "select count(*) from quarantine") == [(1,)]


def test_same_rows_in_another_file_are_unchanged(data_dir: Path, tmp_path: Path) -> None:
    ingest_files(data_dir, "predictions", [write(tmp_path / "a.csv", GOOD)])
    renamed = tmp_path / "b.csv"
    renamed.write_bytes(GOOD.strip().replace("\n", "\r\n").encode())  # other bytes, same rows
    [result] = ingest_files(data_dir, "predictions", [renamed])
    assert (result.inserted, result.replaced, result.unchanged) == (0, 0, 3)
    assert snapshot_rows(data_dir, "select count(*), max(batch_id) from predictions") == [(3, 1)]


def test_a_corrected_row_replaces_the_old_one_and_records_the_batch(
    data_dir: Path, tmp_path: Path
) -> None:
    ingest_files(data_dir, "predictions", [write(tmp_path / "a.csv", GOOD)])
    fixed = GOOD.replace(
        "1.2.2,P002,Osaka,2026-10-02,DX,pneumothorax,ChestXR,2.1,0.10",
        "1.2.2,P002,Osaka,2026-10-02,DX,pneumothorax,ChestXR,2.1,0.70",
    )
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "b.csv", fixed)])
    assert (result.inserted, result.replaced, result.unchanged) == (0, 1, 2)
    rows = snapshot_rows(
        data_dir, "select study_uid, score, predicted, batch_id from predictions order by 1"
    )
    assert rows == [("1.2.1", 0.91, True, 1), ("1.2.2", 0.7, True, 2), ("1.2.3", 0.5, True, 1)]
    assert snapshot_rows(
        data_dir, "select batch_id, rows_replaced from ingest_batches order by 1"
    ) == [(1, 0), (2, 1)]


def test_duplicate_keys_in_one_file_keep_the_last_row(data_dir: Path, tmp_path: Path) -> None:
    text = f"""
{PRED_HEADER}
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.1
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.8
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "d.csv", text)])
    assert (result.inserted, result.quarantined) == (1, 1)
    assert result.reasons == [
        "d.csv: row 1: duplicate of row 2 (same study_uid, finding, model_name, model_version); "
        "the last row in the file is kept"
    ]
    assert snapshot_rows(data_dir, "select score from predictions") == [(0.8,)]
    [(raw,)] = snapshot_rows(data_dir, "select raw from quarantine")
    kept = json.loads(raw)
    assert kept["score"] == 0.1 and kept["site"] == "Osaka"  # the superseded row is not lost
    assert kept["patient_pid"] != "P001" and "patient_id" not in kept


def test_configured_operating_point_and_file_threshold(data_dir: Path, tmp_path: Path) -> None:
    text = f"""
{PRED_HEADER},threshold,predicted
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.35,,
1.2.2,P002,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.35,0.4,
1.2.3,P003,Osaka,2026-10-01,CR,effusion,ChestXR,2.1,0.35,,1
"""
    settings = Settings(data_dir=data_dir, operating_points={"ChestXR/pneumothorax": 0.3})
    ingest_files(data_dir, "predictions", [write(tmp_path / "t.csv", text)], settings=settings)
    rows = snapshot_rows(
        data_dir,
        "select study_uid, threshold, threshold_source, predicted from predictions order by 1",
    )
    assert rows == [
        ("1.2.1", 0.3, "configured", True),
        ("1.2.2", 0.4, "file", False),
        ("1.2.3", 0.5, "predicted", True),  # given predicted wins over the score rule
    ]


def test_a_float32_score_at_the_threshold_is_predicted_as_in_a_csv_file(
    data_dir: Path, tmp_path: Path
) -> None:
    """float32 holds 0.35 as 0.3499999940395355: read as is, it fell below an operating point of
    0.35 that the same score in a CSV file meets."""
    n = 3
    table = pa.table(
        {
            "study_uid": ["1", "2", "3"],
            "patient_id": ["P1", "P2", "P3"],
            "site": ["Osaka"] * n,
            "study_datetime": ["2026-10-01"] * n,
            "modality": ["CR"] * n,
            "finding": ["ptx"] * n,
            "model_name": ["M"] * n,
            "model_version": ["1"] * n,
            "score": pa.array([0.35, 0.3499, 0.123456789], pa.float32()),
            "threshold": pa.array([None, 0.3499, None], pa.float32()),
        }
    )
    pq.write_table(table, tmp_path / "f32.parquet")
    csv = write(tmp_path / "same.csv", f"{PRED_HEADER}\n4,P4,Osaka,2026-10-01,CR,ptx,M,1,0.35")
    settings = Settings(data_dir=data_dir, operating_points={"M/ptx": 0.35})
    ingest_files(data_dir, "predictions", [tmp_path / "f32.parquet", csv], settings=settings)
    rows = snapshot_rows(
        data_dir, "select study_uid, score, threshold, predicted from predictions order by 1"
    )
    assert rows == [
        ("1", 0.35, 0.35, True),
        ("2", 0.3499, 0.3499, True),
        # not a decimal of 6 places: its float32 value, widened
        ("3", float(np.float32(0.123456789)), 0.35, False),
        ("4", 0.35, 0.35, True),
    ]


def test_utf16_text_and_compressed_files_load(data_dir: Path, tmp_path: Path) -> None:
    row = "1,P1,K\u00f6ln,2026-10-01,CR,f,M,1,0.5"
    # Excel's "Unicode Text" export: UTF-16 with a byte-order mark, tab-separated
    (tmp_path / "excel.txt").write_text(f"{PRED_HEADER}\n{row}\n".replace(",", "\t"), "utf-16")
    plain = write(tmp_path / "plain.csv", f"{PRED_HEADER}\n{row.replace('1,P1', '2,P2')}")
    for codec, ext in (("gzip", "gz"), ("zstd", "zst")):
        duckdb.execute(
            f"copy (select * from read_csv('{plain}', all_varchar = true)) "
            f"to '{tmp_path}/p.csv.{ext}' (header, compression {codec})"
        )
    names = ["excel.txt", "p.csv.gz", "p.csv.zst"]
    results = ingest_files(data_dir, "predictions", [tmp_path / n for n in names])
    assert [(r.status, r.accepted) for r in results] == [("committed", 1)] * 3
    rows = snapshot_rows(data_dir, "select study_uid, site from studies order by 1")
    assert rows == [("1", "K\u00f6ln"), ("2", "K\u00f6ln")]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [("Asia/Tokyo", ["2026-10-01 09:00:00", "2026-11-01 00:30:00", "2026-10-03 09:00:00"]),
     ("UTC", ["2026-10-01 00:00:00", "2026-10-31 15:30:00", "2026-10-03 00:00:00"])],
)  # fmt: skip
def test_instants_become_wall_clock_times_in_the_configured_zone(
    data_dir: Path, tmp_path: Path, zone: str, expected: list[str]
) -> None:
    # a Parquet timestamp with time zone is an instant: 00:00 UTC is 09:00 in Tokyo, and a study
    # at 00:30 on 1 November in Tokyo belongs to November there, to October in UTC
    utc = [datetime(2026, 10, 1, 0, 0, tzinfo=UTC), datetime(2026, 10, 31, 15, 30, tzinfo=UTC)]
    instants = pa.array(utc, pa.timestamp("us", tz="UTC"))
    n = 2
    table = pa.table(
        {
            "study_uid": ["1", "2"],
            "patient_id": ["P1", "P2"],
            "site": ["Osaka"] * n,
            "study_datetime": instants,
            "modality": ["CR"] * n,
            "finding": ["f"] * n,
            "model_name": ["M"] * n,
            "model_version": ["1"] * n,
            "score": [0.1, 0.2],
        }
    )
    pq.write_table(table, tmp_path / "tz.parquet")
    csv = write(
        tmp_path / "off.csv", f"{PRED_HEADER}\n3,P3,Osaka,2026-10-03T09:00:00+09:00,CR,f,M,1,0.3"
    )
    settings = Settings(data_dir=data_dir, time_zone=zone)
    ingest_files(data_dir, "predictions", [tmp_path / "tz.parquet", csv], settings=settings)
    rows = snapshot_rows(data_dir, "select study_datetime::varchar from studies order by study_uid")
    # a text time with an offset is an instant too (tests/ingest/test_offsets_time_zone.py)
    assert [r[0] for r in rows] == expected


def test_an_unknown_time_zone_is_refused(data_dir: Path) -> None:
    (data_dir / "radqa.toml").write_text('time_zone = "Asia/Tokio"\n')
    with pytest.raises(ConfigError, match="time_zone = 'Asia/Tokio'; expected an IANA"):
        load_settings(data_dir)
    (data_dir / "radqa.toml").write_text('time_zone = "Asia/Seoul"\n')
    assert load_settings(data_dir).time_zone == "Asia/Seoul"


def test_parquet_and_jsonl_load_like_csv(data_dir: Path, tmp_path: Path) -> None:
    cols = PRED_HEADER.split(",")
    values = [["9.1", "P9", "Seoul", "2026-09-01", "MR", "lesion", "MR-Brain", "1", 0.42]]
    table = pa.table({c: [v[i] for v in values] for i, c in enumerate(cols)})
    pq.write_table(table, tmp_path / "p.parquet")
    (tmp_path / "p.jsonl").write_text(
        json.dumps(
            dict(
                zip(
                    cols,
                    ["9.2", "P9", "Seoul", "2026-09-02", "MR", "lesion", "MR-Brain", "1", 0.61],
                    strict=True,
                )
            )
        )
        + "\n"
    )
    results = ingest_files(data_dir, "predictions", [tmp_path / "p.parquet", tmp_path / "p.jsonl"])
    assert [r.inserted for r in results] == [1, 1]
    assert snapshot_rows(data_dir, "select study_uid, score from predictions order by 1") == [
        ("9.1", 0.42),
        ("9.2", 0.61),
    ]


def test_json_lines_values_of_mixed_types_and_keys_that_appear_late(
    data_dir: Path, tmp_path: Path
) -> None:
    base = {"site": "Kobe", "study_datetime": "2026-02-01", "modality": "CT", "finding": "f"}
    base |= {"model_name": "M", "model_version": 1, "score": 0.5}
    lines = [{"study_uid": f"1.{i}", "patient_id": i, **base} for i in range(30_000)]
    # past the lines DuckDB samples: a string where numbers were, a bad score, two new keys
    lines += [
        {"study_uid": "2.1", "patient_id": "7", **base, "model_version": "1"},
        {"study_uid": "2.2", "patient_id": "8", **base, "score": "abc"},
        {"study_uid": "2.3", "patient_id": "9", **base, "threshold": 0.9, "note": {"a": [1]}},
    ]
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    csv = write(tmp_path / "same.csv", f"{PRED_HEADER}\n3.1,7,Kobe,2026-02-01,CT,f,M,1,0.5")
    first, second = ingest_files(data_dir, "predictions", [path, csv])
    assert (first.status, first.inserted, first.quarantined) == ("committed", 30_002, 1)
    assert first.reasons == [
        "late.jsonl: row 30002: column 'score' is 'abc'; expected a number between 0 and 1"
    ]
    rows = snapshot_rows(
        data_dir,
        "select study_uid, model_version, threshold, threshold_source, extra, patient_pid "
        "from predictions join studies using (study_uid) "
        "where study_uid in ('1.7', '2.1', '2.3', '3.1') order by 1",
    )
    versions = {r[0]: r[1] for r in rows}
    assert versions == {"1.7": "1", "2.1": "1", "2.3": "1", "3.1": "1"}  # never '"1"'
    assert rows[2][2:5] == (0.9, "file", '{"note":{"a":[1]}}')
    # patient 7 as a JSON number, as a JSON string and in a CSV: one pseudonym
    assert rows[0][5] == rows[1][5] == rows[3][5]
    assert second.inserted == 1


def test_ids_in_float_parquet_columns_read_as_their_digits(data_dir: Path, tmp_path: Path) -> None:
    # pandas makes an integer column with a gap float: patient 123456 arrives as 123456.0
    n = 3
    table = pa.table(
        {
            "study_uid": pa.array([1001.0, 1002.0, 1003.5], pa.float64()),
            "patient_id": pa.array([123456.0, None, 77.0], pa.float64()),
            "site": ["Osaka"] * n,
            "study_datetime": ["2026-10-01"] * n,
            "modality": ["CR"] * n,
            "finding": ["f"] * n,
            "model_name": ["M"] * n,
            "model_version": pa.array([2.0, 2.0, 2.0], pa.float64()),
            "score": [0.1, 0.2, 0.3],
        }
    )
    pq.write_table(table, tmp_path / "pandas.parquet")
    # pandas writes such a column to CSV as '77.0'; ids only: model version '2.0' stays
    rows = [
        "2001,123456,Osaka,2026-10-01,CR,f,M,2,0.4",
        "2002.0,77.0,Osaka,2026-10-01,CR,f,M,2.0,0.5",
    ]
    csv = write(tmp_path / "p.csv", "\n".join([PRED_HEADER, *rows]))
    first, _ = ingest_files(data_dir, "predictions", [tmp_path / "pandas.parquet", csv])
    assert (first.inserted, first.quarantined) == (2, 1)  # the missing patient id
    stored = snapshot_rows(
        data_dir,
        "select study_uid, model_version, patient_pid from predictions "
        "join studies using (study_uid) order by 1",
    )
    assert [r[:2] for r in stored] == [
        ("1001", "2.0"), ("1003.5", "2.0"), ("2001", "2"), ("2002", "2.0")
    ]  # fmt: skip
    assert stored[0][2] == stored[2][2]  # 123456.0 and '123456': one patient
    assert stored[1][2] == stored[3][2]  # 77.0 in Parquet and '77.0' in a CSV: one patient
    [(raw,)] = snapshot_rows(data_dir, "select raw from quarantine")
    assert json.loads(raw)["study_uid"] == "1002"


def test_json_lines_that_are_not_objects_are_quarantined_not_the_file(
    data_dir: Path, tmp_path: Path
) -> None:
    good = json.dumps(
        {"study_uid": "1", "patient_id": "P1", "site": "Kobe", "study_datetime": "2026-02-01",
         "modality": "CT", "finding": "f", "model_name": "M", "model_version": "1", "score": 0.5}
    )  # fmt: skip
    lines = [
        good,
        "",
        '{"study_uid": "2", "patient_id": "SECRET-ID',
        "[1, 2]",
        good.replace('"1"', '"3"'),
    ]
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(lines) + "\n")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 2, 2)
    # a row's number is its line's, the blank line counted (as an editor numbers lines)
    assert result.reasons == [
        "cut.jsonl: row 3: the line is not valid JSON",
        "cut.jsonl: row 4: the line is JSON but not an object",
    ]
    rows = snapshot_rows(data_dir, "select column_name, raw from quarantine order by row_number")
    assert rows == [("(row)", None), ("(row)", None)]  # nothing of an unparsed line is kept
    assert snapshot_rows(data_dir, "select study_uid from predictions order by 1") == [
        ("1",),
        ("3",),
    ]
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps([json.loads(good)], indent=2))  # JSON, not JSON Lines
    [refused] = ingest_files(data_dir, "predictions", [pretty])
    assert refused.message == (
        "pretty.json: no line is a JSON object; expected JSON Lines, one object per line"
    )


def test_any_header_works_and_columns_naming_a_person_are_not_stored(
    data_dir: Path, tmp_path: Path
) -> None:
    # a quote in a name, names the checks use for their own columns, and three columns that
    # identify a person
    extras = 'doctor\'s note,"a""b",_ok,__t_score,_x0,Patient Name,DOB,accession_number'
    row = "Osaka,2026-10-01,CR,f,M,1,{score},hello,x,no,y,z,TARO YAMADA,1950-01-01,A123"
    text = f"{PRED_HEADER},{extras}\n1,P1,{row.format(score=0.5)}\n2,P2,{row.format(score=1.5)}"
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "w.csv", text)])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 1, 1)
    assert result.message.endswith(
        "; not stored: column(s) 'patient name', 'dob', 'accession_number' (their names say they "
        "identify a person; of the ids, only patient_id and reader_id are kept, as pseudonyms)"
    )
    kept = {"doctor's note": "hello", 'a"b': "x", "_ok": "no", "__t_score": "y", "_x0": "z"}
    [(extra,)] = snapshot_rows(data_dir, "select extra from predictions")
    assert json.loads(extra) == kept
    [(raw,)] = snapshot_rows(data_dir, "select raw from quarantine")
    assert {k: v for k, v in json.loads(raw).items() if k in kept} == kept
    assert files_holding(data_dir, b"YAMADA", b"1950-01-01", b"A123") == []


@pytest.mark.parametrize(
    ("column", "dropped"),
    [("Patient Name", True), ("patient_birth_date", True), ("MRN", True), ("dob", True),
     ("ReferringPhysicianName", True), ("other_patient_ids", True), ("name", True),
     ("PID", True), ("chart_no", True), ("karte_number", True), ("patient_number", True),
     ("comment", False), ("study_description", False), ("reader_confidence", False),
     ("model_name_alias", False),
     # the sites' own languages and roles (a QA tester's headers from Japanese and Korean exports)
     ("患者ID", True), ("氏名", True), ("환자번호", True), ("이름", True), ("subject_id", True),
     ("Hospital No", True), ("Pt No", True), ("Kanja_Bango", True), ("patient", True),
     ("Radiologist", True), ("Reader", True), ("Reporting Doctor", True),
     ("Ordering Doctor", True), ("second_reader", True), ("doctor's note", False),
     ("撮影条件", False), ("검사부위", False), ("reader_study_arm", False),
     # a second QA round: names that were kept, and data that was dropped
     ("pt_name", True), ("フリガナ", True), ("主治医", True), ("reported_by", True),
     ("依頼医", True), ("読影者", True), ("撮影技師", True), ("担当医", True), ("판독자", True),
     ("주치의", True), ("담당의", True), ("의뢰의", True), ("read_by", True), ("signed_by", True),
     ("reader_initials", True), ("username", True), ("radiologists", True), ("readers", True),
     ("患者体位", False), ("医師所見", False), ("환자자세", False), ("의사소견", False),
     ("의사결정", False), ("患者年齢", False), ("pacs_reader", False), ("dicom_reader", False),
     ("ip_address", False), ("physician_override", False), ("insurance_type", False),
     ("birth_weight", False), ("reader_study", False), ("operator_notes", False),
     ("patient_position", False), ("doctor_comment", False),
     # a third QA round: ids under the names hospital systems give them, word by word
     ("radiologist_id", True), ("reporting_radiologist_id", True), ("doctor_id", True),
     ("author", True), ("signer", True), ("mrn_no", True), ("nhs_number", True),
     ("patient_ref", True), ("hospital_id", True), ("RadiologistIDs", True), ("PtRef", True),
     ("AuthorName", True), ("subject_code", True), ("staff", True),
     ("author_notes", False), ("user_agent", False), ("patient_weight_kg", False),
     ("hospital_type", False), ("chart_type", False), ("subject_area", False),
     ("number_of_images", False), ("reference_standard_source", False),
     # a re-test round: more names hospital systems give ids and people
     ("referring_md", True), ("検査医", True), ("読影医師", True), ("報告者", True),
     ("担当技師", True), ("医師", True), ("报告医生", True), ("reader1", True), ("reader_1", True),
     ("reviewer_id", True), ("reviewed_by", True), ("created_by", True), ("annotator", True),
     ("dr_name", True), ("provider_id", True), ("MedRecNo", True), ("HN", True),
     ("chart", True), ("passport_no", True), ("next_of_kin", True), ("visit_id", True),
     ("encounter_id", True), ("admission_no", True), ("acc_no", True), ("npi", True),
     ("birth_year", True), ("emergency_contact", True), ("case_owner", True),
     ("reader_experience_years", False), ("dicom_reader_version", False),
     ("医師所見", False), ("visit_type", False), ("admission_ward", False),
     ("emergency", False), ("case_priority", False), ("rad_dose", False)],
)  # fmt: skip
def test_which_extra_column_names_are_taken_for_a_person(column: str, dropped: bool) -> None:
    assert names_a_person(column) is dropped


def test_strict_refuses_the_whole_file_but_keeps_the_reasons(
    data_dir: Path, tmp_path: Path
) -> None:
    text = f"""
{PRED_HEADER}
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.1
1.2.2,P002,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,-1
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "s.csv", text)], strict=True)
    assert result.status == "refused" and result.quarantined == 1
    assert snapshot_rows(data_dir, "select count(*) from predictions") == [(0,)]
    assert snapshot_rows(data_dir, "select row_number from quarantine") == [(2,)]


def test_cli_prints_summary_and_exits_non_zero_on_quarantine(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "a.csv", GOOD)
    write(tmp_path / "b.csv", f"{PRED_HEADER}\nX,P1,Osaka,2026-10-01,CR,f,M,1,abc")
    code = main(["--data-dir", str(data_dir), "ingest", "predictions", str(tmp_path / "*.csv")])
    out = capsys.readouterr().out
    assert code == 1
    lines = out.splitlines()
    assert lines[:-1] == [
        "committed  a.csv: 3 accepted (3 new, 0 replaced, 0 unchanged), 0 quarantined",
        "committed  b.csv: 0 accepted (0 new, 0 replaced, 0 unchanged), 1 quarantined",
        "           b.csv: row 1: column 'score' is 'abc'; expected a number between 0 and 1",
        "total: 2 file(s), 3 rows accepted (3 new, 0 replaced, 0 unchanged), 1 quarantined, "
        "0 file(s) refused",
    ]
    assert lines[-1].startswith("dashboard landing view computed (")  # dashboard/warmup.py
    assert (
        main(["--data-dir", str(data_dir), "ingest", "predictions", str(tmp_path / "a.csv")]) == 0
    )


def test_batches_and_quarantine_are_listed_newest_first(data_dir: Path, tmp_path: Path) -> None:
    import metrics
    from radqa.store import open_snapshot

    ingest_files(data_dir, "predictions", [write(tmp_path / "a.csv", GOOD)])
    bad = write(tmp_path / "b.csv", f"{PRED_HEADER}\nX,P1,Osaka,2026-10-01,CR,f,M,1,abc")
    ingest_files(data_dir, "predictions", [bad])
    con = open_snapshot(data_dir)
    batches = metrics.ingest_batches(con)
    assert batches[["batch_id", "file_name", "status", "rows_inserted", "rows_quarantined"]].to_dict(
        "records"
    ) == [
        {"batch_id": 2, "file_name": "b.csv", "status": "committed", "rows_inserted": 0,
         "rows_quarantined": 1},
        {"batch_id": 1, "file_name": "a.csv", "status": "committed", "rows_inserted": 3,
         "rows_quarantined": 0},
    ]  # fmt: skip
    rows = metrics.quarantine_rows(con, limit=10)
    assert rows[["file_name", "row_number", "column_name", "reason"]].to_dict("records") == [
        {"file_name": "b.csv", "row_number": 1, "column_name": "score",
         "reason": "b.csv: row 1: column 'score' is 'abc'; expected a number between 0 and 1"},
    ]  # fmt: skip
    assert "P1" not in rows["raw_values"][0]


def test_data_dir_from_option_after_the_command_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "a.csv", GOOD)
    assert main(["ingest", "predictions", str(path), "--data-dir", str(tmp_path / "d1")]) == 0
    monkeypatch.setenv("RADQA_DATA_DIR", str(tmp_path / "d2"))
    assert main(["ingest", "predictions", str(path)]) == 0
    for d in ("d1", "d2"):
        assert snapshot_rows(tmp_path / d, "select count(*) from predictions") == [(3,)]
    capsys.readouterr()


def test_a_data_dir_with_a_quote_in_its_name_works(tmp_path: Path) -> None:
    data_dir = tmp_path / "o'brien data"
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "a.csv", GOOD)])
    assert result.status == "committed"
    assert snapshot_rows(data_dir, "select count(*) from predictions") == [(3,)]


def test_snapshot_id_is_deterministic_and_follows_every_batch(tmp_path: Path) -> None:
    from radqa.store import open_snapshot, snapshot_info

    def sid(data_dir: Path) -> str:
        con = open_snapshot(data_dir)
        try:
            info = snapshot_info(con)
            assert info is not None
            return info.snapshot_id
        finally:
            con.close()

    good = write(tmp_path / "a.csv", GOOD)
    ingest_files(tmp_path / "one", "predictions", [good])
    ingest_files(tmp_path / "two", "predictions", [good])
    assert sid(tmp_path / "one") == sid(tmp_path / "two")  # same files, same id
    before = sid(tmp_path / "one")
    ingest_files(tmp_path / "one", "predictions", [write(tmp_path / "x.csv", "a,b\n1,2")])
    assert sid(tmp_path / "one") != before  # a refused file is news for the data-health page


def test_malformed_csv_rows_are_quarantined_not_the_file(data_dir: Path, tmp_path: Path) -> None:
    text = f"""
{PRED_HEADER}
1,P1,Osaka,2026-10-01,CR,f,M,1,0.5
2,P2,Osaka,2026-10-01,CR,f,M,1,0.5,EXTRA,MORE
3,P3,Osaka,2026-10-01,CR,f,M,1
4,P4,Osaka,2026-10-01,CR,f,M,1,0.7
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "m.csv", text)])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 2, 2)
    assert result.reasons == [
        "m.csv: row 2: the row has 11 fields, more than the header's 9 columns "
        "(a delimiter in a value that is not quoted?)",
        "m.csv: row 3: the row has 8 fields, fewer than the header's 9 columns "
        "(a value with a line break that is not quoted, or a missing delimiter?)",
    ]
    assert snapshot_rows(data_dir, "select study_uid from predictions order by 1") == [
        ("1",),
        ("4",),
    ]


def test_a_row_shifted_by_an_unquoted_delimiter_quotes_none_of_its_values(
    data_dir: Path, tmp_path: Path
) -> None:
    # the patient id comes after a free-text column: "Osaka, East" unquoted pushes it into the
    # study_datetime column and beyond, where a check would quote it
    header = (
        "study_uid,site,patient_id,study_datetime,modality,finding,model_name,model_version,score"
    )
    text = f"{header}\n1,Osaka, East,PATIENT-SECRET,2026-10-01,CR,f,M,1,0.5"
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "s.csv", text)])
    assert result.reasons == [
        "s.csv: row 1: the row has 10 fields, more than the header's 9 columns "
        "(a delimiter in a value that is not quoted?)"
    ]
    assert snapshot_rows(data_dir, "select column_name, raw from quarantine") == [("(row)", None)]
    assert files_holding(data_dir, b"PATIENT-SECRET") == []


def test_semicolon_and_tab_separated_files(data_dir: Path, tmp_path: Path) -> None:
    row = "1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.91"
    semi = write(tmp_path / "s.csv", f"{PRED_HEADER}\n{row}".replace(",", ";"))
    tab = write(
        tmp_path / "t.tsv", f"{PRED_HEADER}\n{row.replace('1.2.1', '1.2.2')}".replace(",", "\t")
    )
    results = ingest_files(data_dir, "predictions", [semi, tab])
    assert [(r.status, r.inserted) for r in results] == [("committed", 1), ("committed", 1)]


def test_a_quoted_value_spanning_lines_loads(data_dir: Path, tmp_path: Path) -> None:
    # valid CSV (RFC 4180) that DuckDB's parallel reader refuses: read again with one thread
    text = f"""
{PRED_HEADER},comment
1.2.1,P001,"Osaka
East",2026-10-01,CR,pneumothorax,ChestXR,2.1,0.91,"seen on
two lines"
1.2.2,P002,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,abc,one line
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "nl.csv", text)])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 1, 1)
    # the row number counts data rows (records), not lines
    assert result.reasons == [
        "nl.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1"
    ]
    [(site, extra)] = snapshot_rows(
        data_dir, "select site, extra from studies join predictions using (study_uid)"
    )
    assert site == "Osaka\nEast"
    assert json.loads(extra) == {"comment": "seen on\ntwo lines"}


def test_an_unclosed_quote_refuses_the_file_without_echoing_the_line(
    data_dir: Path, tmp_path: Path
) -> None:
    good = "".join(
        f"1.2.{i},P{i},Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.5\n" for i in range(30000)
    )
    # past the rows DuckDB samples to learn the layout, so the scan (not the sniffer) meets it
    late = write(
        tmp_path / "late.csv",
        f'{PRED_HEADER}\n{good}9.9.9,SECRET-ID,"Osaka,2026-10-01,CR,f,M,1,0.5\n'
        "9.9.8,P9,Osaka,2026-10-01,CR,f,M,1,0.5",
    )
    early = write(tmp_path / "early.csv", f'{PRED_HEADER}\n1,SECRET-ID,"Osaka,2026,CR,f,M,1,0.5')
    long = write(
        tmp_path / "long.csv", f"{PRED_HEADER}\n1,SECRET-ID,{'O' * 2_100_000},x,CR,f,M,1,0.5"
    )
    results = ingest_files(data_dir, "predictions", [late, early, long])
    assert [r.status for r in results] == ["refused"] * 3
    assert results[0].message == (
        "late.csv: cannot be read as CSV: near line 30002: a quoted value is opened and never closed"
    )
    assert results[1].message.startswith(
        "early.csv: cannot be read as CSV: its layout is not recognisable as CSV"
    )
    assert results[2].message.endswith("a line is longer than DuckDB's limit (2 MB)")
    assert not any("SECRET" in r.message for r in results)
    assert snapshot_rows(data_dir, "select count(*) from predictions") == [(0,)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-03", "2026-10-03 00:00:00"),
        ("  2026-10-03 14:20:00  ", "2026-10-03 14:20:00"),
        ("2026-10-03T14:20:00Z", "2026-10-03 14:20:00"),
        ("2026-10-03T14:20:00+09:00", "2026-10-03 14:20:00"),
        (" 2026-10-03T14:20:00-0500 ", "2026-10-03 14:20:00"),
        ("2026-10-03 14:20:00.5", "2026-10-03 14:20:00.5"),
        ("", None),
        ("   ", None),
        ("03/10/2026", None),
        ("20261003", "2026-10-03 00:00:00"),  # ISO 8601 basic format, as DICOM writes dates
        ("20261003T142000", "2026-10-03 14:20:00"),
        ("20261003142000.25", "2026-10-03 14:20:00.25"),
        ("20261345", None),
        ("2026-13-01", None),
    ],
)
def test_date_time_forms_keep_the_wall_clock_time(text: str, expected: str | None) -> None:
    """The typed value of an ISO 8601 column: surrounding spaces and an offset are ignored (the
    site's wall-clock time is kept); an empty or non-ISO value is invalid (NULL, then quarantine)."""
    sql = Column("study_datetime", "timestamp", True).typed_sql("v")
    [(value,)] = duckdb.execute(
        f"select ({sql})::varchar from (select ?::varchar as v)", [text]
    ).fetchall()
    assert value == expected


@pytest.mark.parametrize(
    ("text", "valid"),
    [("2026-10-03", True), ("1970-01-02", True), ("2099-12-31T23:59:59", True),
     # DuckDB reads these as timestamps: words, the Unix epoch (what many systems write for a
     # missing date), years BC and past 9999
     ("infinity", False), ("-infinity", False), ("epoch", False), ("1970-01-01", False),
     ("1970-01-01 09:00:00", False),  # the epoch as a Parquet instant read in Tokyo
     ("2026-10-01 (BC)", False), ("29999-01-01", False), ("2100-01-01", False),
     ("1969-12-31", False)],
)  # fmt: skip
def test_date_times_that_duckdb_reads_but_no_study_has_are_invalid(text: str, valid: bool) -> None:
    """A QA tester's -infinity study date loaded, then made the monthly report fail."""
    col = Column("study_datetime", "timestamp", True)
    [(ok,)] = duckdb.execute(
        f"select coalesce({col.valid_sql('t')}, false) from (select {col.typed_sql('v')} as t "
        "from (select ?::varchar as v))",
        [text],
    ).fetchall()
    assert ok is valid


@pytest.mark.parametrize(
    ("value", "expected"),
    [("54", 54), (" 54 ", 54), ("54.0", 54), ("54.5", None), ("abc", None), ("", None)],
)
def test_ages_are_whole_years(value: str, expected: int | None) -> None:
    """A fractional age is invalid (quarantined), not rounded as DuckDB's cast would round it."""
    sql = Column("patient_age", "age", False).typed_sql("v")
    [(typed,)] = duckdb.execute(f"select {sql} from (select ?::varchar as v)", [value]).fetchall()
    assert typed == expected
    [(from_float,)] = duckdb.execute(f"select {sql} from (select 54.5::double as v)").fetchall()
    assert from_float is None


def test_blank_rows_are_skipped_and_counted_and_row_numbers_stay(
    data_dir: Path, tmp_path: Path
) -> None:
    # rows a spreadsheet leaves where rows were cleared rather than deleted
    text = f"""
{PRED_HEADER},note
1.2.1,P001,Osaka,2026-10-01,CR,f,M,1,0.9,a
,,,,,,,,,
 , ,,,,,,,,
1.2.2,P002,Osaka,2026-10-01,CR,f,M,1,abc,b
,,,,,,,,,
"""
    lines = [
        '{"study_uid": "9", "patient_id": "P9", "site": "Osaka", "study_datetime": "2026-10-01", '
        '"modality": "CR", "finding": "f", "model_name": "M", "model_version": "1", "score": 0.5}',
        "{}",
    ]
    (tmp_path / "p.jsonl").write_text("\n".join(lines) + "\n")
    write(tmp_path / "blank.csv", f"{PRED_HEADER}\n,,,,,,,,\n,,,,,,,,")
    csv, jsonl, blank = ingest_files(
        data_dir, "predictions", [write(tmp_path / "p.csv", text), tmp_path / "p.jsonl",
                                  tmp_path / "blank.csv"]
    )  # fmt: skip
    assert (csv.rows_read, csv.accepted, csv.quarantined) == (2, 1, 1)
    assert csv.reasons == [
        "p.csv: row 4: column 'score' is 'abc'; expected a number between 0 and 1"
    ]  # its place in the file: the blank rows before it still count
    assert csv.message.endswith("; 3 blank row(s) skipped (no value in any column)")
    assert (jsonl.rows_read, jsonl.accepted, jsonl.quarantined) == (1, 1, 0)
    assert jsonl.message.endswith("; 1 blank row(s) skipped (no value in any column)")
    assert blank.message == "blank.csv: the file has a header but no data rows"
    assert snapshot_rows(data_dir, "select count(*) from quarantine") == [(1,)]


def test_camel_case_person_columns_are_not_stored(data_dir: Path, tmp_path: Path) -> None:
    """Ingest lower-cased the header before reading the names, so `RadiologistID` became
    `radiologistid`, whose words cannot be told apart, and was stored (a QA tester): the names
    are now read as the header writes them."""
    extras = "RadiologistID,PatientRef,SignerName,HospitalID,ReaderConfidence,PatientPosition"
    row = "Osaka,2026-10-01,CR,f,M,1,0.4,Dr.Quinn,MRN-ZZTOP-4711,Dr.Quinn,MRN-ZZTOP-4711,0.9,supine"
    text = f"{PRED_HEADER},{extras}\n1,P1,{row}"
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "c.csv", text)])
    assert result.status == "committed"
    assert result.message.endswith(
        "; not stored: column(s) 'radiologistid', 'patientref', 'signername', 'hospitalid' "
        "(their names say they identify a person; of the ids, only patient_id and reader_id "
        "are kept, as pseudonyms)"
    )
    [(extra,)] = snapshot_rows(data_dir, "select extra from predictions")
    assert json.loads(extra) == {"readerconfidence": "0.9", "patientposition": "supine"}
    assert files_holding(data_dir, b"Dr.Quinn", b"MRN-ZZTOP-4711") == []


def test_an_operating_point_for_a_model_with_a_slash_in_its_name(
    data_dir: Path, tmp_path: Path
) -> None:
    """'Vendor/CXR v2/ptx' was split at the first '/' (model 'Vendor', finding 'CXR v2/ptx'), so
    it never applied, and the unmatched-point warning, which compares whole keys, said nothing
    (a QA tester)."""
    from radqa.settings import Settings, unmatched_operating_points

    settings = Settings(data_dir=data_dir, operating_points={"Vendor/CXR v2/ptx": 0.3})
    text = f"{PRED_HEADER}\n1,P1,Osaka,2026-10-01,CR,ptx,Vendor/CXR v2,1,0.35"
    [result] = ingest_files(
        data_dir, "predictions", [write(tmp_path / "s.csv", text)], settings=settings
    )
    assert result.status == "committed"
    assert snapshot_rows(
        data_dir, "select model_name, threshold, threshold_source, predicted from predictions"
    ) == [("Vendor/CXR v2", 0.3, "configured", True)]
    assert unmatched_operating_points(settings, [("Vendor/CXR v2", "ptx")]) == []
