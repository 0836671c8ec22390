"""How ingest opens and refuses input files: what a refusal says, and that it quotes no value."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.load import ingest_files
from ingest.pseudonym import load_key, pseudonymise
from ingest.readers import open_source
from radqa import store
from radqa.errors import FileRefusedError
from tests.ingest.conftest import PRED_HEADER, files_holding, snapshot_rows, working_rows, write

PRED_REQUIRED = PRED_HEADER.replace(",", ", ")
READ_REQUIRED = "study_uid, finding, reader_id, label, read_datetime"


def refusal(data_dir: Path, kind: str, path: Path) -> str:
    """The message of the one batch ``path`` makes, which must be a refusal, as stored."""
    [result] = ingest_files(data_dir, kind, [path])
    assert result.status == "refused"
    [(message,)] = working_rows(data_dir, "select message from ingest_batches")
    assert message == result.message
    return result.message


def test_a_file_without_a_header_row_is_refused_without_quoting_its_first_line(
    data_dir: Path, tmp_path: Path
) -> None:
    rows = write(
        tmp_path / "noheader.csv",
        "h1,MRN73001,A,2026-10-01,CR,ptx,M,1,0.5\nh2,MRN73002,A,2026-10-01,CR,ptx,M,1,0.6",
    )
    assert refusal(data_dir, "predictions", rows) == (
        "noheader.csv: its first line names none of the required columns, so the file seems to "
        "have no header row (the line is not shown: it may be a data row, with an id); expected "
        f"a first line naming the columns, the required ones: {PRED_REQUIRED}"
    )
    reads = write(
        tmp_path / "reads.csv", "s1,ptx,DR75001,1,2026-10-02\ns2,ptx,DR75002,0,2026-10-02"
    )
    reads_data = data_dir.parent / "reads-data"
    reads_data.mkdir()
    assert refusal(reads_data, "reads", reads).endswith(f"the required ones: {READ_REQUIRED}")
    assert files_holding(data_dir, b"MRN73001", b"MRN73002", b"h1,") == []
    assert files_holding(reads_data, b"DR75001", b"DR75002") == []


def test_column_names_that_read_as_values_are_not_listed(data_dir: Path, tmp_path: Path) -> None:
    # a header whose cells were partly overwritten by a data row: names and values side by side
    text = "study_uid,patient_id,site,2026-10-01,CR,finding,model_name,MRN73001,Y^T,0.5\n1,2"
    assert refusal(data_dir, "predictions", write(tmp_path / "mixed.csv", text)) == (
        "mixed.csv: missing required column(s): study_datetime, modality, model_version, score; "
        "columns found: study_uid, patient_id, site, cr, finding, model_name and 4 whose names "
        "read as values (not shown: the first line may be a data row)"
    )
    assert files_holding(data_dir, b"MRN73001", b"Y^T") == []


UTF_ROWS = (
    PRED_HEADER.replace(",", "\t")
    + "\n1.2.1\tP1\tOsaka\t2026-10-01\tCR\tptx\tM\t1\t0.25"
    + "\n1.2.2\tP2\t\uc11c\uc6b8\t2026-10-02T08:30:00\tCT\tptx\tM\t1\t0.75\n"
)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xfe\xff" + UTF_ROWS.encode("utf-16-be"), None),  # UTF-16 big-endian with its mark
        (b"\xfe\xff" + UTF_ROWS.encode("utf-16-be"), "utf-16"),
        (UTF_ROWS.encode("utf-32"), None),  # little-endian, with the mark
        (b"\x00\x00\xfe\xff" + UTF_ROWS.encode("utf-32-be"), None),
        # a cron job that passes --encoding cp932 to every file: the mark wins
        (b"\xfe\xff" + UTF_ROWS.encode("utf-16-be"), "cp932"),
        (UTF_ROWS.encode("utf-16"), "cp932"),  # little-endian, with the mark
        (UTF_ROWS.encode("utf-16"), "utf-8"),
    ],
)
def test_utf16_big_endian_and_utf32_files_with_a_byte_order_mark_load(
    data_dir: Path, tmp_path: Path, data: bytes, encoding: str | None
) -> None:
    (tmp_path / "unicode.tsv").write_bytes(data)
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "unicode.tsv"], encoding=encoding)
    assert (result.status, result.inserted, result.quarantined) == ("committed", 2, 0)
    rows = snapshot_rows(
        data_dir,
        "select study_uid, site, study_datetime, modality, score from studies "
        "join predictions using (study_uid) order by study_uid",
    )
    assert rows == [
        ("1.2.1", "Osaka", datetime(2026, 10, 1), "CR", 0.25),
        ("1.2.2", "\uc11c\uc6b8", datetime(2026, 10, 2, 8, 30), "CT", 0.75),
    ]
    key = load_key(data_dir)
    pids = snapshot_rows(data_dir, "select patient_pid from studies order by study_uid")
    assert pids == [(pseudonymise(key, "P1"),), (pseudonymise(key, "P2"),)]
    assert list(store.scratch_dir(data_dir).glob("radqa_*")) == []  # the UTF-8 copy is gone


@pytest.mark.parametrize("delim", [",", "\t"])
def test_a_row_with_fewer_fields_than_the_header_is_quarantined_without_its_values(
    data_dir: Path, tmp_path: Path, delim: str
) -> None:
    # row 2 lacks its study_uid: read by position, its patient id would be the study_uid
    lines = [
        f"{PRED_HEADER},body_part",
        "1.2.1,MRN74001,A,2026-10-01,CR,ptx,M,1,0.5,CHEST",
        "MRN74002,A,2026-10-01,CR,ptx,M,1,0.5,CHEST",
        "1.2.3,MRN74003,A,2026-10-01,CR,ptx,M,1,0.5",  # no body_part: one field short
        '1.2.4,MRN74004,A,2026-10-01,CR,ptx,M,1,0.5,""',  # an empty last value: a whole row
        "1.2.5,MRN74005,A,2026-10-01,CR,ptx,M,1,0.5,",
        ",",  # no value at all: a blank row, skipped
    ]
    path = tmp_path / ("short.csv" if delim == "," else "short.tsv")
    path.write_text("\n".join(lines).replace(",", delim) + "\n")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 3, 2)
    assert result.reasons == [
        f"{path.name}: row 2: the row has 9 fields, fewer than the header's 10 columns "
        "(a value with a line break that is not quoted, or a missing delimiter?)",
        f"{path.name}: row 3: the row has 9 fields, fewer than the header's 10 columns "
        "(a value with a line break that is not quoted, or a missing delimiter?)",
    ]
    quarantined = snapshot_rows(
        data_dir, "select row_number, column_name, raw from quarantine order by row_number"
    )
    assert quarantined == [(2, "(row)", None), (3, "(row)", None)]
    stored = snapshot_rows(data_dir, "select study_uid, body_part from studies order by study_uid")
    assert stored == [("1.2.1", "CHEST"), ("1.2.4", None), ("1.2.5", None)]
    assert files_holding(data_dir, b"MRN74002") == []


def test_empty_and_quoted_empty_fields_are_still_empty_values(
    data_dir: Path, tmp_path: Path
) -> None:
    text = (
        f"{PRED_HEADER},station,note\n"
        '1.2.1,P1,A,2026-10-01,CR,ptx,M,1,0.5,"",x\n'
        "1.2.2,P2,A,2026-10-01,CR,ptx,M,1,,,y\n"
        '1.2.3,P3,A,2026-10-01,CR,ptx,M,1,"",S1,\n'
    )
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "e.csv", text)])
    assert (result.inserted, result.quarantined) == (1, 2)
    assert result.reasons == [
        "e.csv: row 2: column 'score' is empty; expected a number between 0 and 1",
        "e.csv: row 3: column 'score' is empty; expected a number between 0 and 1",
    ]
    assert snapshot_rows(data_dir, "select station from studies") == [(None,)]
    raw = snapshot_rows(
        data_dir, "select raw->>'score', raw->>'note' from quarantine order by row_number"
    )
    assert raw == [(None, "y"), (None, None)]


def test_json_lines_without_an_optional_key_are_whole_rows(data_dir: Path, tmp_path: Path) -> None:
    base = dict(
        zip(
            PRED_HEADER.split(","),
            ["1.2.1", "P1", "A", "2026-10-01", "CR", "ptx", "M", "1", "0.5"],
            strict=True,
        )
    )
    lines = [
        {**base, "station": "S1"},
        {**base, "study_uid": "1.2.2"},  # no station: normal in JSON Lines
        {k: v for k, v in base.items() if k != "score"} | {"study_uid": "1.2.3"},
    ]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "p.jsonl"])
    assert (result.inserted, result.quarantined) == (2, 1)
    assert result.reasons == [
        "p.jsonl: row 3: column 'score' is empty; expected a number between 0 and 1"
    ]


ROW = "1.2.1,P1,A,2026-10-01,CR,ptx,M,1,0.5"


@pytest.mark.parametrize(
    ("header", "row", "repeated"),
    [
        (f"{PRED_HEADER},score", f"{ROW},0.9", "score"),
        (PRED_HEADER.replace("site", "Site") + ",SITE", f"{ROW},B", "site"),
        (f"{PRED_HEADER},note, Note ,x", f"{ROW},a,b,c", "note"),
    ],
)
def test_a_csv_file_whose_column_names_repeat_is_refused(
    data_dir: Path, tmp_path: Path, header: str, row: str, repeated: str
) -> None:
    path = write(tmp_path / "dup.csv", f"{header}\n{row}")
    assert refusal(data_dir, "predictions", path) == (
        f"dup.csv: column names repeat (case-insensitive): {repeated}; expected each column once"
    )


def test_a_parquet_file_whose_column_names_repeat_is_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    names = [*PRED_HEADER.split(","), "SCORE"]
    values = [*ROW.split(","), "0.9"]
    table = pa.Table.from_arrays([pa.array([v]) for v in values], names=names)
    pq.write_table(table, tmp_path / "dup.parquet")
    assert refusal(data_dir, "predictions", tmp_path / "dup.parquet") == (
        "dup.parquet: column names repeat (case-insensitive): score; expected each column once"
    )
    # a struct's fields and a list's element are not columns of their own
    nested = table.drop_columns(["SCORE"]).append_column(
        "lst", pa.array([[{"score": 1, "finding": "x"}]])
    )
    pq.write_table(nested, tmp_path / "nested.parquet")
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "nested.parquet"])
    assert (result.status, result.inserted) == ("committed", 1)


def test_a_folder_given_as_a_file_is_named_a_folder_with_the_glob_to_use(tmp_path: Path) -> None:
    (tmp_path / "dirx.csv").mkdir()
    con = duckdb.connect()
    with pytest.raises(FileRefusedError) as refused:
        open_source(con, tmp_path / "dirx.csv", frozenset())
    assert str(refused.value) == (
        f"{tmp_path}/dirx.csv: is a folder, not a file; to load the files in it, give a glob "
        f"such as '{tmp_path}/dirx.csv/*.csv'"
    )
    with pytest.raises(FileRefusedError) as refused:
        open_source(con, tmp_path / "absent.jsonl", frozenset())
    assert str(refused.value) == f"{tmp_path}/absent.jsonl: no such file"
    # and from the command
    [result] = ingest_files(tmp_path / "data", "predictions", [tmp_path / "dirx.csv"])
    assert (result.status, result.message) == (
        "refused",
        f"{tmp_path}/dirx.csv: is a folder, not a file; to load the files in it, give a glob "
        f"such as '{tmp_path}/dirx.csv/*.csv'",
    )


SAVE = "save it as CSV UTF-8 (Excel: File > Save As > CSV UTF-8) and load that"


@pytest.mark.parametrize(
    ("name", "start", "what"),
    [
        ("x.csv", b"PK\x03\x04\x14\x00\x00\x00[Content_Types].xml xl/workbook.xml",
         f"CSV: it is an Excel workbook (.xlsx), not text; {SAVE}"),
        ("x.jsonl", b"PK\x03\x04\x14\x00\x00\x00xl/styles.xml",
         f"JSONL: it is an Excel workbook (.xlsx), not text; {SAVE}"),
        ("x.parquet", b"PK\x03\x04\x14\x00\x00\x00xl/styles.xml",
         f"PARQUET: it is an Excel workbook (.xlsx), not text; {SAVE}"),
        ("x.csv", b"PK\x03\x04\x14\x00\x00\x00notes.txt", "CSV: it is a ZIP archive; unzip it and "
         "load the files in it"),
        ("x.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00",
         f"CSV: it is an Excel 97-2003 workbook (.xls) or another Office file, not text; {SAVE}"),
        ("x.csv", b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n", "CSV: it is a PDF document, not a table; "
         "export the data as CSV from the system that made it"),
    ],
)  # fmt: skip
def test_a_workbook_pdf_or_archive_is_refused_saying_what_it_is(
    data_dir: Path, tmp_path: Path, name: str, start: bytes, what: str
) -> None:
    (tmp_path / name).write_bytes(start + bytes(range(256)) * 8)
    assert refusal(data_dir, "predictions", tmp_path / name) == f"{name}: cannot be read as {what}"


def test_a_gzip_compressed_file_without_gz_in_its_name_is_read(
    data_dir: Path, tmp_path: Path
) -> None:
    text = f"{PRED_HEADER}\n1.2.1,P1,\u5927\u962a,2026-10-01,CR,ptx,M,1,0.25\n"
    (tmp_path / "plain.csv").write_bytes(gzip.compress(text.encode("utf-8")))
    (tmp_path / "sjis.csv").write_bytes(
        gzip.compress(text.replace("1.2.1", "1.2.2").encode("cp932"))
    )
    [plain] = ingest_files(data_dir, "predictions", [tmp_path / "plain.csv"])
    [sjis] = ingest_files(data_dir, "predictions", [tmp_path / "sjis.csv"], encoding="cp932")
    assert [(r.status, r.inserted) for r in (plain, sjis)] == [("committed", 1), ("committed", 1)]
    rows = snapshot_rows(
        data_dir,
        "select study_uid, site, score from studies join predictions using (study_uid) order by 1",
    )
    assert rows == [("1.2.1", "\u5927\u962a", 0.25), ("1.2.2", "\u5927\u962a", 0.25)]


def test_a_json_lines_object_that_holds_a_key_twice_is_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    """DuckDB kept the first of {"score": 0.5, "score": 0.9}; Python's json keeps the last."""
    good = (
        '{"study_uid": "1", "patient_id": "P1", "site": "A", "study_datetime": "2026-10-01", '
        '"modality": "CR", "finding": "ptx", "model_name": "M", "model_version": "1"'
    )
    path = tmp_path / "twice.jsonl"
    path.write_text(f'{good}, "score": 0.4}}\n{good}, "score": 0.5, "score": 0.9}}\n')
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.status, result.message) == (
        "refused",
        "twice.jsonl: a key repeats within a line's object: score; expected each key once per line",
    )
    path.write_text(f'{good}, "score": 0.4}}\n{good}, "Score": 0.5}}\n')  # another line's case
    [cased] = ingest_files(data_dir, "predictions", [path])
    assert cased.status == "refused" and "column names repeat" in cased.message
