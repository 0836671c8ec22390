"""Fixtures for ingest tests: a data dir and small contract-shaped files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

PRED_HEADER = (
    "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score"
)
READ_HEADER = "study_uid,finding,reader_id,label,read_datetime"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RADQA_PSEUDO_KEY", raising=False)
    d = tmp_path / "data"
    d.mkdir()
    return d


def write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n")
    return path


def snapshot_rows(data_dir: Path, sql: str) -> list[tuple]:
    return _rows(data_dir / "radqa.duckdb", sql)


def working_rows(data_dir: Path, sql: str) -> list[tuple]:
    """Rows of the working database (for batches loaded with ``publish=False``)."""
    return _rows(data_dir / "radqa-work.duckdb", sql)


def _rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def files_holding(data_dir: Path, *raw: bytes) -> list[tuple[str, bytes]]:
    """(file, value) for each file anywhere under ``data_dir`` (working file, snapshot, cases,
    cache, scratch folder) whose bytes hold one of ``raw``: a privacy test expects none."""
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [(str(path.relative_to(data_dir)), value) for value in raw if value in data]
    return found
