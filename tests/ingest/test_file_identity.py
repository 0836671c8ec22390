"""A file's identity (sha256 and size in ingest_batches) and the schema migration that added its
size: an unchanged file is found before its rows are read; any other file is checked while its
hash is computed, and its batch records both."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

import metrics
from ingest import load
from ingest.load import ingest_files
from radqa import cli, store
from tests.ingest.conftest import PRED_HEADER, working_rows, write

ROWS = """
1.2.1,P001,Osaka,2026-10-01T10:00:00,CR,pneumothorax,ChestXR,2.1,0.91
1.2.2,P002,Osaka,2026-10-02,DX,pneumothorax,ChestXR,2.1,0.10
"""


def _batches(data_dir: Path) -> list[tuple]:
    return working_rows(
        data_dir,
        "select file_name, status, content_hash, file_bytes, rows_inserted "
        "from ingest_batches order by batch_id",
    )


@contextmanager
def _version_2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The store as RadQA with schema version 2 knew it."""
    with monkeypatch.context() as m:
        m.setattr(store, "MIGRATIONS", {v: store.MIGRATIONS[v] for v in (1, 2)})
        m.setattr(store, "SCHEMA_VERSION", 2)
        yield


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_batches_record_the_files_sha256_and_size(data_dir: Path, tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", f"{PRED_HEADER}\n{ROWS}")
    # same size, one digit different: not the same file
    second = write(tmp_path / "b.csv", f"{PRED_HEADER}\n{ROWS.replace('0.91', '0.81')}")
    assert first.stat().st_size == second.stat().st_size
    refused = write(tmp_path / "c.csv", "study_uid,score\n1.2.9,0.5")
    results = ingest_files(data_dir, "predictions", [first, second, refused], publish=False)
    assert [(r.status, r.inserted, r.replaced) for r in results] == [
        ("committed", 2, 0),
        ("committed", 0, 1),
        ("refused", 0, 0),
    ]
    assert _batches(data_dir) == [
        ("a.csv", "committed", _sha256(first), first.stat().st_size, 2),
        ("b.csv", "committed", _sha256(second), second.stat().st_size, 0),
        ("c.csv", "refused", _sha256(refused), refused.stat().st_size, 0),
    ]
    # the Data health page's batch list shows them
    con = duckdb.connect(str(store.working_path(data_dir)), read_only=True)
    try:
        shown = metrics.ingest_batches(con)
    finally:
        con.close()
    assert shown[["file_name", "file_bytes", "file_sha256"]].values.tolist() == [
        ["c.csv", refused.stat().st_size, _sha256(refused)],
        ["b.csv", second.stat().st_size, _sha256(second)],
        ["a.csv", first.stat().st_size, _sha256(first)],
    ]


def test_a_file_of_a_new_size_is_checked_while_it_is_hashed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write(tmp_path / "a.csv", f"{PRED_HEADER}\n{ROWS}")
    longer = write(tmp_path / "b.csv", f"{PRED_HEADER}\n{ROWS.replace('0.91', '0.915')}")
    ingest_files(data_dir, "predictions", [first], publish=False)
    answers: list[bool] = []
    maybe = load._maybe_loaded

    def spy(con: duckdb.DuckDBPyConnection, kind: str, size: int) -> bool:
        answers.append(maybe(con, kind, size))
        return answers[-1]

    monkeypatch.setattr(load, "_maybe_loaded", spy)
    # the same content under another name: its size is known, so it is hashed first: unchanged
    again = write(tmp_path / "a-again.csv", first.read_text())
    [same] = ingest_files(data_dir, "predictions", [again], publish=False)
    assert same.status == "unchanged" and "already loaded as batch 1" in same.message
    [changed] = ingest_files(data_dir, "predictions", [longer], publish=False)
    assert answers == [True, False]
    assert (changed.status, changed.replaced) == ("committed", 1)
    assert _batches(data_dir)[-1][2:4] == (_sha256(longer), longer.stat().st_size)


def test_a_version_2_database_migrates_and_its_files_stay_known(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 3 adds ingest_batches.file_bytes; batches recorded before it have none, so a
    file with their hash is still found unchanged."""
    first = write(tmp_path / "a.csv", f"{PRED_HEADER}\n{ROWS}")
    with _version_2(monkeypatch):
        con = store.connect_working(data_dir)
        assert store.schema_version(con) == 2
        con.execute(
            "insert into ingest_batches (batch_id, kind, file_name, content_hash, started_at, "
            "status, rows_inserted) values (nextval('batch_seq'), 'predictions', 'a.csv', ?, ?, "
            "'committed', 2)",
            [_sha256(first), datetime(2026, 1, 1)],
        )
        con.close()

    con = store.connect_working(data_dir)
    assert store.schema_version(con) == store.SCHEMA_VERSION == 4
    con.close()
    assert _batches(data_dir) == [("a.csv", "committed", _sha256(first), None, 2)]
    [result] = ingest_files(data_dir, "predictions", [first], publish=False)
    assert result.status == "unchanged"


def test_serve_migrates_and_republishes_an_older_snapshot(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After an upgrade, `radqa serve` (and so `make run` over an existing data dir) migrates the
    working database and publishes it again instead of failing on the old snapshot."""
    with _version_2(monkeypatch):
        con = store.connect_working(data_dir)
        store.publish_snapshot(con, data_dir)
        con.close()
    with pytest.raises(store.StoreError, match="schema version 2"):
        store.open_snapshot(data_dir)

    served: list[Path] = []
    monkeypatch.setattr("radqa.serve.serve", lambda d, **kw: served.append(d) or 0)
    assert cli.main(["--data-dir", str(data_dir), "serve"]) == 0
    assert served == [data_dir]
    assert (
        "schema version 2; migrating the working database to version 4" in capsys.readouterr().out
    )
    snap = store.open_snapshot(data_dir)
    assert store.schema_version(snap) == 4
    snap.close()
    assert store.outdated_snapshot(data_dir) is None
