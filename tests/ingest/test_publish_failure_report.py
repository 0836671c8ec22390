"""Whatever stops an ingest after some of its batches committed (publishing fails, a full disk on
a later file, Ctrl-C), the command says which batches committed and what failed (a QA tester: a
full disk while publishing printed one DuckDB line and exit 2, 'nothing done', though the batch
had committed)."""

from __future__ import annotations

import contextlib
import errno
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest import load
from ingest.load import IngestInterrupted, PartlyLoaded, ingest_files
from radqa import store
from radqa.cli import main
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, working_rows, write

BEHIND = (
    "the dashboard shows the previous snapshot until `radqa publish` (or the next ingest) "
    "publishes it"
)


def _file(tmp_path: Path, study: int) -> Path:
    return write(
        tmp_path / f"f{study}.csv",
        f"{PRED_HEADER}\n{study},P{study},Osaka,2026-10-0{study},CR,effusion,M,1,0.4",
    )


def _line(study: int) -> str:
    return f"committed  f{study}.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 0 quarantined"


def _ingest(data_dir: Path, *files: Path) -> list[str]:
    return ["--data-dir", str(data_dir), "ingest", "predictions", *map(str, files)]


def test_a_folder_in_the_way_of_the_snapshot_says_the_batch_committed(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real failure to publish: the snapshot's place is taken by a folder."""
    assert main(_ingest(data_dir, _file(tmp_path, 1))) == 0
    snapshot = store.snapshot_path(data_dir)
    snapshot.unlink()
    (snapshot / "inside").mkdir(parents=True)
    capsys.readouterr()

    assert main(_ingest(data_dir, _file(tmp_path, 2))) == 3
    out, err = capsys.readouterr()
    assert out == (
        f"{_line(2)}\ntotal: 1 file(s), 1 rows accepted (1 new, 0 replaced, 0 unchanged), "
        "0 quarantined, 0 file(s) refused\n"
    )
    assert err.startswith(
        "radqa: error: f2.csv: batch committed to the working database; publishing the snapshot "
        "failed: a folder is in the way (Is a directory: "
    )
    assert err.endswith(f"{snapshot}); move it aside; {BEHIND}\n")
    assert working_rows(data_dir, "select count(*) from predictions") == [(2,)]
    assert not list(data_dir.glob(".radqa.duckdb.*.tmp*"))  # the half copy was removed

    shutil.rmtree(snapshot)  # the folder moved aside: the next ingest catches up
    assert main(_ingest(data_dir, tmp_path / "f2.csv")) == 0
    assert snapshot_rows(data_dir, "select count(*) from predictions") == [(2,)]


def test_a_full_disk_while_publishing_is_exit_3_with_the_reason_in_words(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def full(*args: object) -> None:
        try:
            raise duckdb.IOException(
                'IO Error: Could not write file "data/.radqa.duckdb.7.tmp": No space left on device'
            )
        finally:  # as DuckDB says it when the detach after the failed copy fails too
            raise duckdb.IOException(
                "IO Error: Detached database 'radqa_snapshot', but CHECKPOINT during DETACH failed."
            )

    monkeypatch.setattr(store, "publish_snapshot", full)
    assert main(_ingest(data_dir, _file(tmp_path, 1), _file(tmp_path, 2))) == 3
    out, err = capsys.readouterr()
    assert out.startswith(f"{_line(1)}\ntotal: 1 file(s), 1 rows accepted")
    assert err == (
        "radqa: error: f1.csv: batch committed to the working database; publishing the snapshot "
        "failed: the disk is full (IO Error: Detached database 'radqa_snapshot', but CHECKPOINT "
        f"during DETACH failed.); free disk space; {BEHIND}; the 1 file(s) after it were not "
        "tried\n"
    )
    assert working_rows(data_dir, "select study_uid from predictions") == [("1",)]


def test_a_machine_failure_on_the_third_file_prints_the_first_two(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [_file(tmp_path, i) for i in (1, 2, 3, 4)]
    real = load.decoded

    @contextlib.contextmanager
    def full(path: Path, *args: object) -> object:
        if path.name == "f3.csv":
            raise OSError(errno.ENOSPC, "No space left on device")
        with real(path, *args) as opened:  # type: ignore[arg-type]
            yield opened

    monkeypatch.setattr(load, "decoded", full)
    assert main(_ingest(data_dir, *files)) == 3
    out, err = capsys.readouterr()
    assert out == (
        f"{_line(1)}\n{_line(2)}\ntotal: 2 file(s), 2 rows accepted (2 new, 0 replaced, "
        "0 unchanged), 0 quarantined, 0 file(s) refused\n"
    )
    assert err.startswith(
        "radqa: error: f3.csv was not loaded: [Errno 28] No space left on device (nothing was "
        "written; free disk space or memory and run the command again). Before it, this command "
        "loaded: committed f1.csv"
    )
    assert err.endswith("; the 1 file(s) after it were not tried\n")
    assert snapshot_rows(data_dir, "select study_uid from predictions order by 1") == [
        ("1",),
        ("2",),
    ]


def test_ctrl_c_after_the_first_file_prints_it(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = [_file(tmp_path, i) for i in (1, 2, 3)]
    real = load._ingest_one

    def stopped(con: object, kind: str, path: Path, **kwargs: object) -> object:
        if path.name == "f2.csv":
            raise KeyboardInterrupt
        return real(con, kind, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(load, "_ingest_one", stopped)
    assert main(_ingest(data_dir, *files)) == 130
    out, err = capsys.readouterr()
    assert out.startswith(f"{_line(1)}\ntotal: 1 file(s)")
    assert err == (
        "radqa: interrupted while loading f2.csv (rolled back); before it, 1 batch(es) of this "
        "command committed; the 1 file(s) after it were not tried\n"
    )
    assert snapshot_rows(data_dir, "select study_uid from predictions") == [("1",)]


def test_ctrl_c_while_publishing_says_the_snapshot_is_behind(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "publish_snapshot", stopped)
    with pytest.raises(IngestInterrupted) as err:
        ingest_files(data_dir, "predictions", [_file(tmp_path, 1), _file(tmp_path, 2)])
    assert str(err.value) == (
        "interrupted while publishing; before it, 1 batch(es) of this command committed; the "
        f"snapshot was not published: {BEHIND}; the 1 file(s) after it were not tried"
    )
    assert [r.file for r in err.value.results] == ["f1.csv"]
    assert isinstance(err.value, KeyboardInterrupt)  # whatever stops on Ctrl-C still does


def test_a_bulk_load_whose_final_publish_fails_names_its_batches(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def folder(*args: object) -> None:
        raise IsADirectoryError(errno.EISDIR, "Is a directory", "a.tmp", None, "radqa.duckdb")

    monkeypatch.setattr(store, "publish_snapshot", folder)
    with pytest.raises(PartlyLoaded) as err:
        ingest_files(
            data_dir, "predictions", [_file(tmp_path, 1), _file(tmp_path, 2)], publish="end"
        )
    assert str(err.value) == (
        "2 batches (f1.csv, f2.csv) committed to the working database; publishing the snapshot "
        "failed: a folder is in the way (Is a directory: radqa.duckdb); move it aside; "
        f"{BEHIND}"
    )
    assert [r.status for r in err.value.results] == ["committed", "committed"]
