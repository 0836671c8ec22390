"""Files too wide or with lines too long: a clear refusal up front, never DuckDB's internal text
(qa9/crash fault 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ingest.contract import CONTRACTS
from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write

VALUES = "{uid},P1,Osaka,2026-10-01,CR,nodule,M,1,0.5"
MAX_COLUMNS = 1000  # as the README documents (ingest.readers.MAX_COLUMNS)
GOOD = json.dumps(
    dict(zip(PRED_HEADER.split(","), VALUES.format(uid="1.2.1").split(","), strict=True))
)


def test_a_file_of_the_most_columns_loads_its_extras_and_checks_its_rows(
    data_dir: Path, tmp_path: Path
) -> None:
    # 1,000 columns: a sum of one term per column nested 1,000 expressions deep, which DuckDB
    # refused ("Max expression depth limit of 1000 exceeded")
    others = MAX_COLUMNS - len(PRED_HEADER.split(","))
    header = ",".join([PRED_HEADER, *(f"c{i}" for i in range(others))])
    full = ",".join(str(i) for i in range(others))
    rows = [
        f"{VALUES.format(uid='1.2.1')},{full}",
        f"{VALUES.format(uid='1.2.2')},{full}",
        f"{VALUES.format(uid='1.2.3')},1,2",  # 11 fields
        f"{VALUES.format(uid='1.2.4')},{full},x,y",  # 1,002 fields
    ]
    path = write(tmp_path / "wide.csv", "\n".join([header, *rows]))
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.status, result.inserted, result.quarantined) == ("committed", 2, 2)
    [(extra,), _] = snapshot_rows(data_dir, "select extra from predictions order by study_uid")
    assert json.loads(extra) == {f"c{i}": str(i) for i in range(others)}
    reasons = snapshot_rows(data_dir, "select row_number, reason from quarantine order by 1")
    assert reasons == [
        (3, "wide.csv: row 3: the row has 11 fields, fewer than the header's 1000 columns (a "
            "value with a line break that is not quoted, or a missing delimiter?)"),
        (4, "wide.csv: row 4: the row has 1002 fields, more than the header's 1000 columns (a "
            "delimiter in a value that is not quoted?)"),
    ]  # fmt: skip


def _wide(path: Path, columns: int) -> Path:
    others = columns - len(PRED_HEADER.split(","))
    values = VALUES.format(uid="1.2.1").split(",")
    frame = pd.DataFrame([values + ["1"] * others], columns=[*PRED_HEADER.split(","),
                         *(f"c{i}" for i in range(others))])  # fmt: skip
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


@pytest.mark.parametrize(
    ("name", "columns"),
    [("wide.csv", 10_009), ("wide.csv", MAX_COLUMNS + 1), ("wide.parquet", 2_000),
     ("wide.jsonl", 1_500)],
)  # fmt: skip
def test_a_wider_file_is_refused_saying_how_many_columns_are_read(
    data_dir: Path, tmp_path: Path, name: str, columns: int
) -> None:
    [result] = ingest_files(data_dir, "predictions", [_wide(tmp_path / name, columns)])
    assert len(CONTRACTS["predictions"]) == 18
    assert (result.status, result.message) == (
        "refused",
        f"{name}: the file has {columns:,} columns; at most 1,000 are read: 18 of the contract "
        "and up to 982 others; expected a file without the columns RadQA does not need",
    )


def test_a_json_line_longer_than_the_limit_is_refused_as_such(
    data_dir: Path, tmp_path: Path
) -> None:
    # an object of 40 MB: DuckDB's parallel reader skipped it without a word (no line at all:
    # "no line is a JSON object"), or stopped with its own text ("The Parallel CSV Reader
    # currently does not support a full read on this file") when other lines came before it
    big = json.dumps({**json.loads(GOOD), "notes": "x" * (40 << 20)})
    alone = write(tmp_path / "alone.jsonl", big)
    among = write(tmp_path / "among.jsonl", "\n".join([GOOD, GOOD, big, GOOD]))
    results = ingest_files(data_dir, "predictions", [alone, among])
    assert [(r.status, r.message) for r in results] == [
        ("refused", f"{p.name}: cannot be read as JSONL: near line {n}: a line is longer than "
                    "DuckDB's limit (2 MB)")
        for p, n in ((alone, 1), (among, 3))
    ]  # fmt: skip
