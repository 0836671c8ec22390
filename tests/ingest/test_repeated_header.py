"""Exports joined into one file (``cat jan.csv feb.csv``) leave the second header line among the
rows. In the header's column order it is skipped, named in the batch message, and the rows load;
in another order the rows after it are under the wrong columns (a tester: reader ids DRX7102,
DRX7103 stored as the finding, a correct row quarantined because 'pneumothorax' became one of
the file's reader ids), and the whole file is refused with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, working_rows, write

REORDERED = "study_uid,reader_id,finding,label,read_datetime"


def test_a_repeated_header_line_in_the_same_order_is_skipped_and_the_rows_load(
    data_dir: Path, tmp_path: Path
) -> None:
    # row 2 is an empty line (a spreadsheet's row), row 3 the header again, written as another
    # export may: other case, spaces; row 6 is a bad row, quarantined as ever
    path = write(
        tmp_path / "joined.csv",
        f"{READ_HEADER}\n"
        "1.1,pneumothorax,DRX7101,1,2026-10-05T09:00:00\n"
        "\n"
        " Study_UID ,FINDING,Reader_ID,label,read_datetime\n"
        "1.2,pneumothorax,DRX7102,0,2026-10-05T09:00:00\n"
        "1.3,pneumothorax,DRX7103,1,2026-10-05T09:00:00\n"
        "1.4,pneumothorax,DRX7103,maybe,2026-10-05T09:00:00",
    )
    [result] = ingest_files(data_dir, "reads", [path], publish=False)
    assert (result.status, result.rows_read, result.inserted, result.quarantined) == (
        "committed",
        4,
        3,
        1,
    )
    assert result.message == (
        "joined.csv: 3 accepted (3 new, 0 replaced, 0 unchanged), 1 quarantined; "
        "none of its 3 studies is known yet (no prediction or DICOM header has named them): the "
        "reads wait for their predictions; if those never come, check that both files name a "
        "study by the same study_uid (the StudyInstanceUID in both, or the accession number in "
        "both); row 3 repeats the header line (files joined?); skipped"
    )
    assert result.reasons == ["joined.csv: row 6: column 'label' is 'maybe'; expected 0 or 1"]
    assert working_rows(data_dir, "select study_uid, finding, label from reads order by 1") == [
        ("1.1", "pneumothorax", 1),
        ("1.2", "pneumothorax", 0),
        ("1.3", "pneumothorax", 1),
    ]
    [(message,)] = working_rows(data_dir, "select message from ingest_batches")
    assert message == result.message
    assert files_holding(data_dir, b"DRX7101", b"DRX7102", b"DRX7103") == []


def test_a_header_line_in_another_order_refuses_the_file_and_stores_no_id(
    data_dir: Path, tmp_path: Path
) -> None:
    """The tester's file: the second export's header names reader_id before finding."""
    path = write(
        tmp_path / "reads_concat_reordered.csv",
        f"{READ_HEADER}\n"
        "1.2.3.1,pneumothorax,DRX7101,1,2026-10-05T09:00:00\n"
        f"{REORDERED}\n"
        "1.2.3.2,DRX7102,pneumothorax,0,2026-10-05T09:00:00\n"
        "1.2.3.3,DRX7103,pneumothorax,1,2026-10-05T09:00:00",
    )
    [result] = ingest_files(data_dir, "reads", [path])  # published: the snapshot too
    assert (result.status, result.inserted, result.quarantined) == ("refused", 0, 0)
    assert result.message == (
        "reads_concat_reordered.csv: row 2 repeats the header line with the columns in another "
        "order (or other columns): the file joins exports written with different column orders, "
        "so the rows after that line are not under their header's columns and any of their "
        "values may be a patient or reader id; nothing was loaded. Split the file at that line, "
        "or export it again with one column order"
    )
    assert working_rows(data_dir, "select count(*) from reads") == [(0,)]
    assert working_rows(data_dir, "select count(*) from quarantine") == [(0,)]
    assert working_rows(data_dir, "select status, message from ingest_batches") == [
        ("refused", result.message)
    ]
    assert (data_dir / "radqa.duckdb").exists()
    assert files_holding(data_dir, b"DRX7101", b"DRX7102", b"DRX7103") == []


def test_a_header_line_with_other_columns_refuses_the_file(data_dir: Path, tmp_path: Path) -> None:
    """The second export has one more column: its header line and rows have more fields than
    the header (malformed rows), and the line is still found, by its text columns."""
    path = write(
        tmp_path / "r.csv",
        f"{READ_HEADER}\n"
        "1.1,pneumothorax,DRX7101,1,2026-10-05\n"
        "1.2,pneumothorax,DRX7102,0,2026-10-05\n"
        f"{READ_HEADER},rating\n"
        "1.3,pneumothorax,DRX7103,1,2026-10-05,4",
    )
    [result] = ingest_files(data_dir, "reads", [path], publish=False)
    assert result.status == "refused"
    assert result.message.startswith(
        "r.csv: row 3 repeats the header line with the columns in another order (or other columns)"
    )
    assert files_holding(data_dir, b"DRX7101", b"DRX7102", b"DRX7103") == []


def test_a_repeated_header_line_in_a_predictions_file(data_dir: Path, tmp_path: Path) -> None:
    rows = (
        "1.1,PAT90001,Osaka,2026-10-01,CR,ptx,M,1,0.5",
        "1.2,PAT90002,Osaka,2026-10-01,CR,ptx,M,1,0.7",
        "1.3,PAT90003,Osaka,2026-10-01,CR,ptx,M,1,0.2",
    )
    same = write(
        tmp_path / "p.csv", "\n".join([PRED_HEADER, rows[0], PRED_HEADER, rows[1], rows[2]])
    )
    [result] = ingest_files(data_dir, "predictions", [same], publish=False)
    assert result.message == (
        "p.csv: 3 accepted (3 new, 0 replaced, 0 unchanged), 0 quarantined; "
        "row 2 repeats the header line (files joined?); skipped"
    )
    assert (result.rows_read, result.ok) == (3, True)

    # site and patient_id swapped in the second export: its patient ids would be stored as sites
    swapped = PRED_HEADER.replace("patient_id,site", "site,patient_id")
    other = write(
        tmp_path / "q.csv",
        "\n".join([PRED_HEADER, rows[0], swapped, "2.1,Osaka,PAT90004,2026-10-01,CR,ptx,M,1,0.5"]),
    )
    [result] = ingest_files(data_dir, "predictions", [other], publish=False)
    assert result.status == "refused"
    assert result.message.startswith("q.csv: row 2 repeats the header line with the columns in")
    assert working_rows(data_dir, "select count(*) from predictions") == [(3,)]
    assert files_holding(data_dir, b"PAT90004") == []


def test_json_lines_are_read_as_ever(data_dir: Path, tmp_path: Path) -> None:
    """A JSON Lines file has no header line: an object whose values are column names is a bad
    row like any other, quarantined, and the others load."""
    names = dict.fromkeys(READ_HEADER.split(","))
    objects = [
        {"study_uid": "1.1", "finding": "ptx", "reader_id": "DRX7101", "label": 1,
         "read_datetime": "2026-10-05"},
        {name: name for name in names},
        {"study_uid": "1.2", "finding": "ptx", "reader_id": "DRX7102", "label": 0,
         "read_datetime": "2026-10-05"},
    ]  # fmt: skip
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    [result] = ingest_files(data_dir, "reads", [path], publish=False)
    assert (result.status, result.inserted, result.quarantined) == ("committed", 2, 1)
    assert "repeats the header" not in result.message
    assert result.reasons[0].startswith("r.jsonl: row 2: column 'label' is 'label'")


def test_exports_saved_as_csv_utf8_with_windows_line_ends(data_dir: Path, tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts each export with a byte-order mark, and one export ends its
    lines in CRLF: the joined file's second header line starts with the mark, and is still the
    header in its order."""
    path = tmp_path / "r.csv"
    path.write_bytes(
        f"\ufeff{READ_HEADER}\r\n1.1,ptx,DRX7101,1,2026-10-05\r\n"
        f"\ufeff{READ_HEADER}\n1.2,ptx,DRX7102,0,2026-10-05\n".encode()
    )
    [result] = ingest_files(data_dir, "reads", [path], publish=False)
    assert (result.status, result.inserted, result.quarantined) == ("committed", 2, 0)
    assert result.message.endswith("; row 2 repeats the header line (files joined?); skipped")


def test_parquet_is_read_as_ever(data_dir: Path, tmp_path: Path) -> None:
    """A Parquet file has no header line: a row of column names is a bad row like any other."""
    path = tmp_path / "r.parquet"
    duckdb.execute(
        f"""
        copy (select * from (values ('1.1', 'ptx', 'DRX7101', '1', '2026-10-05'),
                                    {tuple(READ_HEADER.split(","))},
                                    ('1.2', 'ptx', 'DRX7102', '0', '2026-10-05'))
              t({READ_HEADER})) to '{path}' (format parquet)
        """
    )
    [result] = ingest_files(data_dir, "reads", [path], publish=False)
    assert (result.status, result.inserted, result.quarantined) == ("committed", 2, 1)
    assert result.reasons[0].startswith("r.parquet: row 2: column 'label' is 'label'")
