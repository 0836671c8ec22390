"""A writer stopped after its batch committed and before the snapshot was published (kill -9,
Ctrl-C, a full disk): running it again publishes, and no half-written copy stays behind."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from ingest.load import PartlyLoaded, ingest_files
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
        "; the published snapshot did not hold what the working database holds (an earlier run "
        "stopped before publishing, or the working database was restored from a backup): "
        "published it again"
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
    assert "published it again" not in third.message


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
    with pytest.raises(PartlyLoaded, match="the disk is full .No space left on device"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "b.csv", ROWS.split("\n")[1])])
    names = sorted(p.name for p in data_dir.iterdir() if p.name.startswith("."))
    # the publish's copies, its own failed one too, are gone; the cases build did not run
    assert names == [".radqa-cases.duckdb.77.tmp", ".radqa.duckdb.notes.tmp"]
    monkeypatch.undo()
    for path in left:
        path.write_bytes(b"x")
    [again] = ingest_files(data_dir, "predictions", [tmp_path / "b.csv"])
    assert again.message.endswith("published it again")
    assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith(".")) == [
        ".radqa.duckdb.notes.tmp"
    ]


def test_a_full_disk_is_not_recorded_as_the_files_refusal(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while a cp932 file is decoded refused the file for good, in ingest_batches
    and in the snapshot id, with '[Errno 28]' and no file name (a QA tester)."""
    import contextlib

    from ingest import load
    from radqa.errors import StoreError

    path = tmp_path / "sjis.csv"
    path.write_bytes(f"{PRED_HEADER}\n{ROWS}\n".replace("Osaka", "大阪").encode("cp932"))

    @contextlib.contextmanager
    def full(*args: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")
        yield  # a generator, as the real one

    ingest_files(data_dir, "predictions", [_file(tmp_path, "a.csv", ROWS.split("\n")[0])])
    before = snapshot_rows(data_dir, "select count(*) from ingest_batches")
    monkeypatch.setattr(load, "decoded", full)
    with pytest.raises(StoreError) as err:
        ingest_files(data_dir, "predictions", [path], encoding="cp932")
    assert str(err.value) == (
        "sjis.csv was not loaded: [Errno 28] No space left on device (nothing was written; free "
        "disk space or memory and run the command again)"
    )
    monkeypatch.undo()
    assert snapshot_rows(data_dir, "select count(*) from ingest_batches") == before
    [again] = ingest_files(data_dir, "predictions", [path], encoding="cp932")
    assert (again.status, again.inserted) == ("committed", 1)
    assert snapshot_rows(data_dir, "select distinct site from studies") == [("大阪",)]


def test_a_failed_commit_is_one_error_not_two(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that fails on a full disk ends the transaction; the rollback after it raised
    'cannot rollback - no transaction is active' on top of the real error (a QA tester)."""
    import duckdb

    from ingest import load
    from radqa.errors import StoreError

    def commit_fails(con: duckdb.DuckDBPyConnection, *args: object, **kwargs: object) -> None:
        con.execute("commit")
        raise duckdb.TransactionException(
            'TransactionContext Error: Failed to commit: Could not write file "w.wal": No space '
            "left on device"
        )

    monkeypatch.setattr(load, "_write_batch", commit_fails)
    with pytest.raises(StoreError) as err:
        ingest_files(data_dir, "predictions", [_file(tmp_path, "a.csv")])
    assert str(err.value) == (
        'a.csv was not loaded: TransactionContext Error: Failed to commit: Could not write file "w.wal": '
        "No space left on device (the batch was rolled back; free disk space or memory and run "
        "the command again)"
    )
    assert err.value.__context__ is not None
    assert "rollback" not in str(err.value.__context__)


def test_a_cases_build_that_fails_after_the_commit_does_not_hide_the_batch(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the cases file was built, after the batch committed and published,
    was a traceback: the operator never saw that the batch had loaded (a QA tester)."""
    import duckdb

    def full(*args: object) -> None:
        raise duckdb.IOException(
            'IO Error: Could not write file ".radqa-cases.duckdb.1.tmp.wal": No space left on '
            "device"
        )

    monkeypatch.setattr(derived, "_write_cases", full)
    [loaded] = ingest_files(data_dir, "predictions", [_file(tmp_path, "a.csv")])
    assert (loaded.status, loaded.inserted) == ("committed", 2)
    assert loaded.snapshot_id is not None
    assert loaded.message.endswith(
        '; the cases table could not be built (IO Error: Could not write file ".radqa-cases.'
        'duckdb.1.tmp.wal": No space left on device): the data are published and statistics '
        "join at query time, more slowly, until the next ingest or `radqa publish` builds it"
    )
    assert snapshot_rows(data_dir, "select count(*) from predictions") == [(2,)]
    monkeypatch.undo()
    ingest_files(data_dir, "predictions", [tmp_path / "a.csv"])  # unchanged: builds it now
    assert derived.cases_current(data_dir)


def test_a_machine_failure_on_a_later_file_says_what_was_loaded_before(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a command of several files, memory running out on the second said only 'nothing was
    written', though the first had committed and published (a QA re-test)."""
    import contextlib

    from ingest import load
    from radqa.errors import StoreError

    first = _file(tmp_path, "a.csv", ROWS.split("\n")[0])
    second = _file(tmp_path, "b.csv", ROWS.split("\n")[1])
    third = _file(tmp_path, "c.csv", "3,P3,Osaka,2026-10-03,CR,effusion,M,1,0.2")
    real = load.decoded

    @contextlib.contextmanager
    def out_of_memory(path: Path, *args: object) -> object:
        if path.name == "b.csv":
            raise OSError(errno.ENOMEM, "Cannot allocate memory")
        with real(path, *args) as opened:  # type: ignore[arg-type]
            yield opened

    monkeypatch.setattr(load, "decoded", out_of_memory)
    with pytest.raises(StoreError) as err:
        ingest_files(data_dir, "predictions", [first, second, third])
    assert str(err.value) == (
        "b.csv was not loaded: [Errno 12] Cannot allocate memory (nothing was written; free disk "
        "space or memory and run the command again). Before it, this command loaded: committed "
        "a.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 0 quarantined; the 1 file(s) after "
        "it were not tried"
    )
    assert snapshot_rows(data_dir, "select study_uid from predictions") == [("1",)]
