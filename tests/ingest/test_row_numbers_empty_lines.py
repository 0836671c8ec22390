"""Row numbers count empty lines, as a spreadsheet shows them: DuckDB's CSV reader skips an empty
line, so a row after one was named with a number too small, and the user who opened the file
at that row found a good one. Row N is the N-th line after the header; a quoted value spanning
lines is one row. The expected numbers are counted here from the lines written."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, snapshot_rows

OSAKA = "\u5927\u962a\u5927\u5b66\u75c5\u9662"  # 大阪大学病院: a letter cp932 encodes


def row(i: int, score: str = "0.5", site: str = "Osaka") -> str:
    return f"1.2.{i},P{i},{site},2026-10-01 10:00:00,CR,nodule,M,1,{score}"


def spreadsheet_rows(lines: list[str], marker: str) -> list[int]:
    """The rows a spreadsheet shows the lines holding ``marker`` at: line 1 is the header, so
    the row after it is row 1 (lines[0] the header: a line's index is its row)."""
    return [i for i, line in enumerate(lines) if marker in line]


def quarantined(data_dir: Path) -> list[tuple[int, str]]:
    return snapshot_rows(data_dir, "select row_number, reason from quarantine order by row_number")


# a hospital export with a blank line between blocks, trailing blanks after a manual edit
LINES = [
    PRED_HEADER,
    row(1), row(2), row(3),
    "",
    row(4), row(5, "abc"),
    "", "",
    row(6), row(7, "abc"), row(8),
    "",
    row(9, "abc"),
    "", "",
]  # fmt: skip


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_bad_row_after_empty_lines_has_its_spreadsheet_row(
    data_dir: Path, tmp_path: Path, newline: str
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(newline.join(LINES).encode())
    [result] = ingest_files(data_dir, "predictions", [path])
    expected = spreadsheet_rows(LINES, ",abc")
    assert expected == [6, 10, 13]
    reasons = [
        f"p.csv: row {n}: column 'score' is 'abc'; expected a number between 0 and 1"
        for n in expected
    ]
    assert (result.accepted, result.quarantined, result.reasons) == (6, 3, reasons)
    # the number Data health lists (quarantine.row_number) is the one the message names
    assert quarantined(data_dir) == list(zip(expected, reasons, strict=True))


def test_a_repeated_key_after_empty_lines_names_both_rows_as_a_spreadsheet_does(
    data_dir: Path, tmp_path: Path
) -> None:
    lines = [PRED_HEADER, row(1), "", row(2, "0.2"), "", "", row(3), row(2, "0.7"), ""]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines))
    [result] = ingest_files(data_dir, "predictions", [path])
    first, last = spreadsheet_rows(lines, "1.2.2,")
    assert (first, last) == (3, 7)
    assert result.reasons == [
        f"p.csv: row {first}: duplicate of row {last} (same study_uid, finding, model_name, "
        "model_version); the last row in the file is kept"
    ]
    assert [n for n, _ in quarantined(data_dir)] == [first]
    assert snapshot_rows(data_dir, "select score from predictions where study_uid = '1.2.2'") == [
        (0.7,)
    ]


def test_a_file_without_empty_lines_keeps_its_numbers(data_dir: Path, tmp_path: Path) -> None:
    lines = [PRED_HEADER, row(1), row(2, "abc"), row(3), row(4, "abc"), row(2, "0.9")]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert spreadsheet_rows(lines, ",abc") == [2, 4]
    assert [n for n, _ in quarantined(data_dir)] == [2, 4]
    assert result.reasons[0] == (
        "p.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1"
    )


def test_a_quoted_value_spanning_lines_is_one_row(data_dir: Path, tmp_path: Path) -> None:
    # row 1's comment holds a line break and an empty line: one row, as a spreadsheet shows it
    # (one cell of three lines), whose empty line is no row; the empty line after row 2 is row 3
    header = f"{PRED_HEADER},comment"
    text = "\n".join(
        [header, f'{row(1)},"seen by\n\nDr. A"', f"{row(2, 'abc')},x", "", f"{row(3, 'abc')},x"]
    )
    path = tmp_path / "p.csv"
    path.write_text(text + "\n")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.reasons == [
        f"p.csv: row {n}: column 'score' is 'abc'; expected a number between 0 and 1"
        for n in (2, 4)
    ]


def _cp932(path: Path, text: str) -> tuple[Path, str]:
    path.write_bytes(text.encode("cp932"))
    return path, "cp932"  # decoded through a UTF-8 copy: the copy's lines are counted


def _utf16(path: Path, text: str) -> tuple[Path, None]:
    path.write_bytes(text.encode("utf-16"))  # with its byte-order mark; DuckDB reads it
    return path, None


def _gzip(path: Path, text: str) -> tuple[Path, None]:
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(("\ufeff" + text).encode()))  # and a UTF-8 byte-order mark
    return gz, None


@pytest.mark.parametrize("write", [_cp932, _utf16, _gzip], ids=["cp932", "utf16", "gzip"])
def test_empty_lines_are_counted_in_the_bytes_duckdb_reads(
    data_dir: Path, tmp_path: Path, write: Callable[[Path, str], tuple[Path, str | None]]
) -> None:
    lines = [line.replace("Osaka", OSAKA) for line in LINES]
    path, encoding = write(tmp_path / "p.csv", "\r\n".join(lines))
    [result] = ingest_files(data_dir, "predictions", [path], encoding=encoding)
    assert result.quarantined == 3
    assert [n for n, _ in quarantined(data_dir)] == spreadsheet_rows(lines, ",abc")


def test_json_lines_rows_are_their_lines(data_dir: Path, tmp_path: Path) -> None:
    def obj(i: int, score: str = "0.5") -> str:
        values = dict(zip(PRED_HEADER.split(","), row(i, score).split(","), strict=True))
        return json.dumps(values)

    lines = [obj(1), "", "   ", obj(2, "abc"), "", obj(3), obj(4, "abc")]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    [result] = ingest_files(data_dir, "predictions", [path])
    # no header: a line's number is its row
    expected = [i + 1 for i, line in enumerate(lines) if '"abc"' in line]
    assert expected == [4, 7]
    assert [n for n, _ in quarantined(data_dir)] == expected
    assert result.reasons[0].startswith("p.jsonl: row 4: column 'score' is 'abc'")


def test_json_lines_of_tabs_are_blank_lines_too(data_dir: Path, tmp_path: Path) -> None:
    """A tester: a line holding only a tab (JSON's blanks are spaces, tabs and CR) was
    quarantined as "the line is not valid JSON" while a line of spaces was skipped."""

    def obj(i: int, score: str = "0.5") -> str:
        values = dict(zip(PRED_HEADER.split(","), row(i, score).split(","), strict=True))
        return json.dumps(values)

    lines = [obj(1), "\t", " \t ", obj(2), "\t\t", obj(3, "abc")]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.accepted, result.quarantined) == (2, 1)
    assert [n for n, _ in quarantined(data_dir)] == [6]
    assert result.reasons == [
        "t.jsonl: row 6: column 'score' is 'abc'; expected a number between 0 and 1"
    ]
