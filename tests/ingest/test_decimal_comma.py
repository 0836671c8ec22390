"""Excel saves CSV with semicolons where the comma is the decimal separator (Germany, France,
Spain, ...), and then writes every score 0,35. Such a file quarantined every row ("'0,35';
expected a number between 0 and 1", a tester). A CSV file whose delimiter is not a comma now
reads 0,35 as 0.35; in a comma-delimited file a quoted "0,35" is still refused, saying why."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, snapshot_rows


def test_semicolon_files_read_decimal_commas(data_dir: Path, tmp_path: Path) -> None:
    preds = tmp_path / "semi.csv"
    preds.write_text(
        f"{PRED_HEADER},threshold\r\n".replace(",", ";")
        + "1.5.1;PAT1;Berlin;2026-10-03 10:00;CR;ptx;M;1;0,35;0,3\r\n"
        + "1.5.2;PAT2;Berlin;2026-10-03 10:00;CR;ptx;M;1;,2;0,5\r\n"
        + "1.5.3;PAT3;Berlin;2026-10-03 10:00;CR;ptx;M;1;0.25;0,5\r\n"
        + "1.5.4;PAT4;Berlin;2026-10-03 10:00;CR;ptx;M;1;1,5;0,5\r\n"
        + "1.5.5;PAT5;Berlin;2026-10-03 10:00;CR;ptx;M;1;0,3,5;0,5\r\n"
    )
    [result] = ingest_files(data_dir, "predictions", [preds])
    assert (result.inserted, result.quarantined) == (3, 2)
    assert result.reasons == [
        "semi.csv: row 4: column 'score' is '1,5'; expected a number between 0 and 1",
        "semi.csv: row 5: column 'score' is '0,3,5'; expected a number between 0 and 1",
    ]
    rows = snapshot_rows(
        data_dir, "select study_uid, score, threshold, predicted from predictions order by 1"
    )
    assert rows == [
        ("1.5.1", 0.35, 0.3, True),
        ("1.5.2", 0.2, 0.5, False),
        ("1.5.3", 0.25, 0.5, False),
    ]
    reads = tmp_path / "r.csv"
    reads.write_text(
        f"{READ_HEADER}\trating\n".replace(",", "\t") + "1.5.1\tptx\tR1\t1\t2026-10-04\t2,5\n"
    )
    [result] = ingest_files(data_dir, "reads", [reads])
    assert result.inserted == 1
    assert snapshot_rows(data_dir, "select rating from reads") == [(2.5,)]


def test_a_decimal_comma_in_a_comma_file_is_refused_saying_why(
    data_dir: Path, tmp_path: Path
) -> None:
    preds = tmp_path / "p.csv"
    preds.write_text(
        f"{PRED_HEADER}\n"
        '1.5.1,PAT1,Berlin,2026-10-03 10:00,CR,ptx,M,1,"0,35"\n'
        "1.5.2,PAT2,Berlin,2026-10-03 10:00,CR,ptx,M,1,0.35\n"
    )
    [result] = ingest_files(data_dir, "predictions", [preds])
    assert (result.inserted, result.quarantined) == (1, 1)
    assert result.reasons == [
        "p.csv: row 1: column 'score' is '0,35', a decimal comma; expected a number between 0 "
        "and 1, written with a point (0.35)"
    ]
