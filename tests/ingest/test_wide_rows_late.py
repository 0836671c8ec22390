"""A CSV row with more fields than the header, after the rows DuckDB's sniffer samples (about
2,000), refused the whole file ('near line 2501: not parseable as CSV'); the same row among the
first rows was quarantined alone. It is now quarantined wherever it is (the file read again with
its columns given, ingest.readers.Source.widened_by), in every layout the reader handles."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, snapshot_rows

ROWS = 25_000


def _file(path: Path, bad: dict[int, int], *, nl: str = "\n", delim: str = ",") -> Path:
    """ROWS rows; row i of ``bad`` has that many fields more than the header's 10; row 3,500's
    comment is a quoted value over two lines."""
    lines = [f"{PRED_HEADER},comment".replace(",", delim)]
    for i in range(1, ROWS + 1):
        comment = "ok"
        if i in bad:
            comment = "motion artefact" + f"{delim} repeat" * bad[i]
        elif i == 3_500:
            comment = '"line one\nline two"'
        fields = [f"1.2.{i}", f"P{i}", "Osaka", "2026-10-03 10:00", "CR", "ptx", "M", "1", "0.5"]
        lines.append(delim.join([*fields, comment]))
    path.write_text(nl.join(lines) + nl, newline="")
    return path


def _reason(name: str, row: int, fields: int) -> str:
    return (
        f"{name}: row {row}: the row has {fields} fields, more than the header's 10 columns "
        "(a delimiter in a value that is not quoted?)"
    )


@pytest.mark.parametrize(("nl", "delim"), [("\n", ","), ("\r\n", ";")])
def test_a_late_row_with_more_fields_is_quarantined_alone(
    data_dir: Path, tmp_path: Path, nl: str, delim: str
) -> None:
    path = _file(tmp_path / "p.csv", {2_500: 1, 24_000: 40}, nl=nl, delim=delim)
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.status, result.inserted, result.quarantined) == ("committed", ROWS - 2, 2)
    assert result.reasons == [_reason("p.csv", 2_500, 11), _reason("p.csv", 24_000, 50)]
    [(count, quoted)] = snapshot_rows(
        data_dir,
        "select count(*), max(extra->>'comment') filter (where study_uid = '1.2.3500') "
        "from predictions",
    )
    assert (count, quoted) == (ROWS - 2, "line one\nline two")


def test_a_row_with_hundreds_more_fields_refuses_the_file_in_words(
    data_dir: Path, tmp_path: Path
) -> None:
    path = _file(tmp_path / "p.csv", {2_500: 1, 24_000: 600})
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.status == "refused"
    assert result.message == (
        "p.csv: cannot be read as CSV: near line 24001: a row has hundreds of fields more "
        "than the header's columns"
    )
