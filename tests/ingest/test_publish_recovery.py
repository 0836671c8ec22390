"""A writer stopped after its batch committed and before the snapshot was published (kill -9,
Ctrl-C, a full disk): running it again publishes, and no half-written copy stays behind."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from ingest.load import ingest_files
from radqa import derived, store
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write

ROWS = "1,P1,Osaka,2026-10-01,CR,effusion,M,1,0.4\n2,P2,Osaka,2026-10-02,CR,effusion,M,1,0.7"


def _file(tmp_path: Path, name: str, rows: str = ROWS) -> Path:
    return write(tmp_path / name, f"{PRED_HEADER}\n{rows}")


def test_a_batch_committed_but_not_published_is_published_by_the_rerun(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _file(tmp_path, "a.csv", ROWS.split("\n")[0])
    [loaded] = ingest_files(data_dir, "predictions", [first])
    old = loaded.snapshot_id
    second = _file(tmp_path, "b.csv", ROWS.split("\n")[1])
    real = store.publish_snapshot

    def stopped(*args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the snapshot is copied

    monkeypatch.setattr(store, "publish_snapshot", stopped)
    with pytest.raises(KeyboardInterrupt):
        ingest_files(data_dir, "predictions", [second])
    monkeypatch.setattr(store, "publish_snapshot", real)
    assert snapshot_rows(data_dir, "select study_uid from predictions") == [("1",)]

    [again] = ingest_files(data_dir, "predictions", [second])
    assert again.status == "unchanged"
    assert again.message.endswith(
        "; the published snapshot lacked batches the working database holds (an earlier run "
        "stopped before publishing them): published now"
    )
    assert again.snapshot_id not in (None, old)
    assert snapshot_rows(data_dir, "select study_uid from predictions order by 1") == [
        ("1",),
        ("2",),
    ]
    assert derived.cases_current(data_dir)
    # and once published, a rerun publishes nothing
    [third] = ingest_files(data_dir, "predictions", [second])
    assert (third.status, third.snapshot_id) == ("unchanged", None)
    assert "published now" not in third.message


def test_a_cases_file_left_stale_by_a_stopped_build_is_rebuilt_by_the_rerun(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _file(tmp_path, "a.csv")
    real = derived.build_cases
    monkeypatch.setattr(derived, "build_cases", lambda *a, **k: None)  # killed before it ran
    [loaded] = ingest_files(data_dir, "predictions", [path])
    assert loaded.snapshot_id and not derived.cases_current(data_dir)
    monkeypatch.setattr(derived, "build_cases", real)
    [again] = ingest_files(data_dir, "predictions", [path])
    assert (again.status, again.snapshot_id) == ("unchanged", None)
    assert derived.cases_current(data_dir)


def test_half_written_copies_are_removed(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_files(data_dir, "predictions", [_file(tmp_path, "a.csv", ROWS.split("\n")[0])])
    # copies a killed publish and a killed cases build left (other pids), and a file that only
    # looks like one
    left = [
        data_dir / ".radqa.duckdb.4242.tmp",
        data_dir / ".radqa.duckdb.4242.tmp.wal",
        data_dir / ".radqa-cases.duckdb.77.tmp",
    ]
    for path in left:
        path.write_bytes(b"x" * 1000)
    kept = data_dir / ".radqa.duckdb.notes.tmp"
    kept.write_bytes(b"mine")

    def full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("radqa.store.os.replace", full)
    with pytest.raises(OSError, match="No space left"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "b.csv", ROWS.split("\n")[1])])
    names = sorted(p.name for p in data_dir.iterdir() if p.name.startswith("."))
    # the publish's copies, its own failed one too, are gone; the cases build did not run
    assert names == [".radqa-cases.duckdb.77.tmp", ".radqa.duckdb.notes.tmp"]
    monkeypatch.undo()
    for path in left:
        path.write_bytes(b"x")
    [again] = ingest_files(data_dir, "predictions", [tmp_path / "b.csv"])
    assert again.message.endswith("published now")
    assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith(".")) == [
        ".radqa.duckdb.notes.tmp"
    ]
