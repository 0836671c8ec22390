"""`radqa demo` holds the writer lock from before it generates its files until its ingest ends.

A QA tester started `radqa ingest predictions` while `radqa demo` was still generating: the
demo took the lock only to ingest, so the hospital's batch committed and was then mixed into the
demo store (or wiped by --replace). These tests run both as real processes. They stop the demo
(SIGSTOP) while it generates, which they check by its files (the demo folder exists, effects.json,
written last, does not), run the ingest to its end, and let the demo go on: no timing decides. The refusal names the demo
and its PID (from the marker the demo keeps in the data dir); a marker a killed demo left is not
believed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")

STUDIES = 2000
HOSPITAL_CSV = (
    "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score\n"
    "9.9.9,P1,A,2026-10-01,CR,effusion,M,1,0.4\n"
)


def _radqa(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "radqa", "--data-dir", str(data), *args]


def _stop_while_generating(demo: subprocess.Popen[str], data: Path) -> None:
    """Stop ``demo`` once it has begun writing its files and check it has not finished them."""
    folder = data / "demo"
    deadline = time.monotonic() + 120
    while not folder.exists():
        assert demo.poll() is None, f"the demo ended before generating: {demo.communicate()}"
        assert time.monotonic() < deadline, "the demo did not start generating in 120 s"
        time.sleep(0.001)
    os.kill(demo.pid, signal.SIGSTOP)
    assert not (folder / "effects.json").exists(), "the demo finished generating before the stop"


def _loaded(data: Path) -> tuple[list[str], int, int]:
    """The loaded files, studies and predictions of ``data``'s snapshot."""
    con = duckdb.connect(str(data / "radqa.duckdb"), read_only=True)
    try:
        files = [r[0] for r in con.execute("select file_name from ingest_batches").fetchall()]
        [(studies, predictions)] = con.execute(
            "select (select count(*) from studies), (select count(*) from predictions)"
        ).fetchall()
    finally:
        con.close()
    return sorted(files), studies, predictions


@pytest.mark.parametrize("replace", [False, True])
def test_an_ingest_started_while_the_demo_generates_is_refused(tmp_path, replace):
    data = tmp_path / "data"
    csv = tmp_path / "site-a.csv"
    csv.write_text(HOSPITAL_CSV)
    if replace:  # a store with the hospital's file, which --replace deletes
        before = subprocess.run(_radqa(data, "ingest", "predictions", str(csv)), check=False)
        assert before.returncode == 0
    demo = subprocess.Popen(
        _radqa(data, "demo", "--studies", str(STUDIES), *(["--replace"] if replace else [])),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _stop_while_generating(demo, data)
        try:
            marker = json.loads((data / ".demo-building").read_text())
            ingest = subprocess.run(
                _radqa(data, "ingest", "predictions", str(csv)),
                capture_output=True,
                text=True,
                timeout=120,
            )
            # another demo: --replace opens the store for writing, a plain demo reads it first
            second = subprocess.run(
                _radqa(data, "demo", "--studies", "1000", *(["--replace"] if replace else [])),
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            os.kill(demo.pid, signal.SIGCONT)
        out, err = demo.communicate(timeout=300)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert (marker["pid"], marker["studies"]) == (demo.pid, STUDIES)
    started = datetime.fromisoformat(marker["started"])
    assert abs(datetime.now(UTC).replace(tzinfo=None) - started) < timedelta(minutes=10)
    working = data / "radqa-work.duckdb"
    building = (
        f"it is held by `radqa demo` (PID {demo.pid}), which is building the demo database of "
        f"2,000 studies (started {started:%Y-%m-%d %H:%M:%S} UTC; the default 200,000 take about "
        "a minute). Wait for it to finish.\n"
    )
    assert (ingest.returncode, ingest.stdout) == (2, "")
    assert ingest.stderr == f"radqa: error: cannot open {working} for writing: {building}"
    opened = "open {} for writing" if replace else "read {}"
    assert (second.returncode, second.stdout) == (2, "")
    assert second.stderr == f"radqa: error: cannot {opened.format(working)}: {building}"
    assert (demo.returncode, err) == (0, ""), out
    assert not (data / ".demo-building").exists()
    assert not list(data.glob(".demo-building*"))  # nor its temporary file
    demo_files = sorted(p.name for p in (data / "demo").glob("predictions-*.parquet")) + sorted(
        p.name for p in (data / "demo").glob("reads-*.csv")
    )
    n_preds = sum(
        pq.ParquetFile(p).metadata.num_rows for p in (data / "demo").glob("predictions-*.parquet")
    )
    assert _loaded(data) == (sorted(demo_files), STUDIES, n_preds)
    assert "site-a.csv" not in demo_files


def test_a_half_built_store_is_removed_under_the_lock_and_a_new_ones_wal_survives(tmp_path):
    """A demo that fails removes its store while it still holds the lock. DuckDB, closing a
    connection with changes in its log, deletes the .wal by name: by then another writer's."""
    from radqa import store
    from radqa.demo import _remove_half_built

    data = tmp_path / "data"
    writer = store.connect_working(data)
    try:
        writer.execute("create table half_built as select range as x from range(100000)")
        assert (data / "radqa-work.duckdb.wal").is_file()
        _remove_half_built(data, writer)
        assert not store.working_path(data).exists()
        # another ingest starts now (the lock went with the file) and writes its log
        (data / "radqa-work.duckdb.wal").write_text("another writer's log")
    finally:
        writer.close()
    assert (data / "radqa-work.duckdb.wal").read_text() == "another writer's log"
    assert not store.working_path(data).exists()


def _hold_the_lock(data: Path) -> subprocess.Popen[str]:
    """A process that holds ``data``'s writer lock (as an ingest does) until killed."""
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from radqa import store; con = store.connect_working(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(120)", str(data)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    return writer


def _dead_pid() -> int:
    """The PID of a process that has ended."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    pid = int(gone.stdout)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    return pid


@pytest.mark.parametrize("who", ["dead", "alive but not the holder"])
def test_a_marker_left_by_a_killed_demo_is_not_believed(tmp_path, who):
    """A demo killed (kill -9, out of memory) leaves its marker: the next refusal names the
    process that holds the lock, not the demo, also when the marker's PID runs something else."""
    from radqa import store
    from radqa.errors import StoreError

    data = tmp_path / "data"
    pid = _dead_pid() if who == "dead" else os.getpid()
    marker = {"pid": pid, "started": "2026-11-27T09:00:00", "studies": 200000}
    data.mkdir()
    (data / ".demo-building").write_text(json.dumps(marker))
    writer = _hold_the_lock(data)
    try:
        with pytest.raises(StoreError) as err:
            store.connect_working(data)
    finally:
        writer.kill()
        writer.wait()
    assert str(err.value) == (
        f"cannot open {data / 'radqa-work.duckdb'} for writing: it is held by "
        f"{os.path.realpath(sys.executable)} (PID {writer.pid}). Only one ingest may run at a "
        "time; wait for the other one to finish."
    )


def test_without_a_pid_in_duckdbs_error_a_marker_is_believed_while_its_process_lives(tmp_path):
    """Where DuckDB's lock error names no holder, the marker's process must be alive."""
    import duckdb

    from radqa.store import lock_holder

    path = tmp_path / "radqa-work.duckdb"
    exc = duckdb.IOException('IO Error: Could not set lock on file "x": Resource busy')
    marker = {"pid": _dead_pid(), "started": "2026-11-27T09:00:00", "studies": 200000}
    (tmp_path / ".demo-building").write_text(json.dumps(marker))
    assert lock_holder(path, exc) == (
        'IO Error: Could not set lock on file "x": Resource busy. Only one ingest may run at a '
        "time; wait for the other one to finish."
    )
    (tmp_path / ".demo-building").write_text(json.dumps(marker | {"pid": os.getpid()}))
    assert lock_holder(path, exc) == (
        f"it is held by `radqa demo` (PID {os.getpid()}), which is building the demo database of "
        "200,000 studies (started 2026-11-27 09:00:00 UTC; the default 200,000 take about a "
        "minute). Wait for it to finish."
    )
    (tmp_path / ".demo-building").write_text("{half written")
    assert lock_holder(path, exc).endswith(". Only one ingest may run at a time; wait for the "
                                           "other one to finish.")  # fmt: skip
