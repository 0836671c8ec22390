"""A CSV's (JSON Lines file's) rows are numbered by their place in the file although the checking pass reads it in
parallel (rowid of a table filled in file order): every quarantined row must carry the number of
the row whose values it shows, also deep into a file of many read buffers."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from ingest.load import ingest_files
from tests.ingest.conftest import snapshot_rows

ROWS = 600_000  # ~50 MB: several CSV buffers, read by several threads
BAD_EVERY = 49_999  # rows 49999, 99998, ... have a score that is not a number


def _write_file(path: Path, *, study_uid: str, score: str) -> Path:
    """A ROWS-row predictions file (CSV or JSON Lines by suffix); row i's study uid and score are
    the SQL expressions given, over i."""
    duckdb.execute(
        f"""
        copy (
          select {study_uid} as study_uid, 'P' || i as patient_id,
                 'Osaka University Hospital' as site, '2026-10-01 10:00:00' as study_datetime,
                 'CR' as modality, 'pneumothorax' as finding, 'ChestXR-Triage' as model_name,
                 '2.1' as model_version, {score} as score,
                 'Siemens Healthineers' as scanner_manufacturer, 'Ysio Max' as scanner_model
          from range(1, {ROWS + 1}) t(i)
        ) to '{path}' ({"format json" if path.suffix == ".jsonl" else "format csv, header"})
        """
    )
    return path


@pytest.mark.parametrize("name", ["big.csv", "big.jsonl"])
def test_quarantined_rows_carry_their_own_row_numbers(
    data_dir: Path, tmp_path: Path, name: str
) -> None:
    path = _write_file(
        tmp_path / name,
        study_uid="'S' || i",
        score=f"case when i % {BAD_EVERY} = 0 then 'x' || i else '0.5' end",
    )
    [result] = ingest_files(data_dir, "predictions", [path])
    bad = ROWS // BAD_EVERY
    assert (result.inserted, result.quarantined) == (ROWS - bad, bad)
    rows = snapshot_rows(data_dir, "select row_number, raw from quarantine order by row_number")
    assert [r[0] for r in rows] == [BAD_EVERY * k for k in range(1, bad + 1)]
    for number, raw in rows:
        values = json.loads(raw)
        assert (values["study_uid"], values["score"]) == (f"S{number}", f"x{number}")


@pytest.mark.parametrize("name", ["dups.csv", "dups.jsonl"])
def test_the_last_of_repeated_keys_wins_deep_in_a_file(
    data_dir: Path, tmp_path: Path, name: str
) -> None:
    # rows i = BAD_EVERY * k repeat the key of row i + 1 with another score: every row is
    # valid, so only the duplicate check needs the rows' places in the file
    path = _write_file(
        tmp_path / name,
        study_uid=f"'S' || (case when i % {BAD_EVERY} = 0 then i + 1 else i end)",
        score=f"case when i % {BAD_EVERY} = 0 then '0.25' else '0.5' end",
    )
    [result] = ingest_files(data_dir, "predictions", [path])
    dups = ROWS // BAD_EVERY
    assert (result.inserted, result.quarantined) == (ROWS - dups, dups)
    rows = snapshot_rows(data_dir, "select row_number, reason from quarantine order by 1")
    assert [r[0] for r in rows] == [BAD_EVERY * k for k in range(1, dups + 1)]
    for number, reason in rows:
        assert f"row {number}: duplicate of row {number + 1} " in reason
    kept = snapshot_rows(
        data_dir,
        "select count(*) filter (where score = 0.5), count(*) filter (where score = 0.25) "
        "from predictions",
    )
    assert kept == [(ROWS - dups, 0)]  # each key kept its last row's score
