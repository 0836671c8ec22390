"""Real processes: readers never meet the writer's lock; a killed batch leaves no trace."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from radqa import cli, store
from tests.ingest.conftest import PRED_HEADER, files_holding

RADQA = [sys.executable, "-m", "radqa"]

READER = r"""
import json, sys, time, duckdb
import os
path, out, done = sys.argv[1], sys.argv[2], sys.argv[3]
seen, errors, end = [], [], time.monotonic() + 600
while time.monotonic() < end:
    finished = os.path.exists(done)  # read once more after the writer is done
    try:
        con = duckdb.connect(path, read_only=True)
        seen.append(con.execute("select count(*) from predictions").fetchall()[0][0])
        con.close()
    except duckdb.IOException as exc:
        if "does not exist" not in str(exc):
            errors.append(str(exc))
    except Exception as exc:
        errors.append(repr(exc))
    if finished:
        break
    time.sleep(0.005)
json.dump({"seen": seen, "errors": errors}, open(out, "w"))
"""


def _write_batches(folder: Path, files: int, rows: int) -> list[Path]:
    paths = []
    for f in range(files):
        lines = [PRED_HEADER] + [
            f"{f}.{i},P{i},Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,{(i % 100) / 100}"
            for i in range(rows)
        ]
        path = folder / f"batch-{f:02d}.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


@pytest.mark.slow
def test_reader_process_never_errors_and_counts_never_go_back(
    data_dir: Path, tmp_path: Path
) -> None:
    paths = _write_batches(tmp_path, files=12, rows=2000)
    out, done = tmp_path / "reader.json", tmp_path / "writer-done"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(data_dir / "radqa.duckdb"), str(out), str(done)]
    )
    for path in paths:  # one writer process per batch, as a timer-driven ingest would run
        subprocess.run(
            [*RADQA, "--data-dir", str(data_dir), "ingest", "predictions", str(path)],
            check=True,
            capture_output=True,
        )
    done.touch()
    reader.wait(timeout=120)
    result = json.loads(out.read_text())
    assert result["errors"] == []
    seen = result["seen"]
    assert len(seen) > 50
    assert seen == sorted(seen)  # never backwards
    assert seen[-1] == 12 * 2000


def _counts(data_dir: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(data_dir / "radqa-work.duckdb"))
    try:
        preds = con.execute("select count(*) from predictions").fetchall()[0][0]
        studies = con.execute("select count(*) from studies").fetchall()[0][0]
        batches = con.execute(
            "select count(*) from ingest_batches where status = 'committed'"
        ).fetchall()[0][0]
    finally:
        con.close()
    return preds, studies, batches


@pytest.mark.slow
def test_kill_9_during_a_batch_leaves_the_database_as_before(
    data_dir: Path, tmp_path: Path
) -> None:
    small = _write_batches(tmp_path, files=1, rows=10)[0]
    subprocess.run(
        [*RADQA, "--data-dir", str(data_dir), "ingest", "predictions", str(small)],
        check=True,
        capture_output=True,
    )
    before = _counts(data_dir)
    assert before == (10, 10, 1)
    big = tmp_path / "big.csv"
    rows = 1_500_000
    duckdb.execute(
        f"""
        copy (select 'b.' || i as study_uid, 'P' || (i % 50000) as patient_id, 'Osaka' as site,
                     '2026-10-01' as study_datetime, 'CR' as modality, 'pneumothorax' as finding,
                     'ChestXR' as model_name, '2.1' as model_version, (i % 1000) / 1000 as score
              from range({rows}) t(i)) to '{big}' (header)
        """
    )
    outcomes = []
    for delay in (0.4, 0.9, 1.5, 2.2):
        proc = subprocess.Popen(
            [*RADQA, "--data-dir", str(data_dir), "ingest", "predictions", str(big)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        after = _counts(data_dir)
        outcomes.append(after)
        # all of the batch or none of it, never part
        assert after in (before, (10 + rows, 10 + rows, 2)), after
        if after != before:
            break
    # killed runs left no temp snapshot that a reader would take for the real one
    con = duckdb.connect(str(data_dir / "radqa.duckdb"), read_only=True)
    published = con.execute("select count(*) from predictions").fetchall()[0][0]
    con.close()
    assert published in (10, 10 + rows)
    # a final run completes the batch
    done = subprocess.run(
        [*RADQA, "--data-dir", str(data_dir), "ingest", "predictions", str(big)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert _counts(data_dir) == (10 + rows, 10 + rows, 2)
    assert any(o == before for o in outcomes)  # at least one kill landed mid-batch


@pytest.mark.slow
def test_a_killed_writer_leaves_no_raw_id_on_disk(data_dir: Path, tmp_path: Path) -> None:
    # a batch whose checked rows (raw ids still in them) spill to disk at a small memory limit
    big = tmp_path / "big.csv"
    duckdb.execute(
        f"""
        copy (select 'b.' || i as study_uid, 'MRN-' || lpad(i::varchar, 7, '0') as patient_id,
                     'Osaka' as site, '2026-10-01' as study_datetime, 'CR' as modality,
                     'pneumothorax' as finding, 'ChestXR' as model_name, '2.1' as model_version,
                     (i % 1000) / 1000 as score
              from range(600000) t(i)) to '{big}' (header)
        """
    )
    env = {**os.environ, "RADQA_WRITER_MEMORY": "48MB"}
    scratch = store.scratch_dir(data_dir)
    proc = subprocess.Popen(
        [*RADQA, "--data-dir", str(data_dir), "ingest", "predictions", str(big)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if scratch.exists() and any(
            p.name.startswith("duckdb_temp_") and p.stat().st_size > 0 for p in scratch.iterdir()
        ):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the batch ended before it spilled to disk"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    spilled = [p for p in scratch.iterdir() if p.name.startswith("duckdb_temp_")]
    # DuckDB leaves a killed process's spill files, raw ids in them, in a folder of ours only
    assert any(b"MRN-" in p.read_bytes() for p in spilled)
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o700
    # the next writer deletes them before anything else
    small = _write_batches(tmp_path, files=1, rows=10)[0]
    subprocess.run(
        [*RADQA, "--data-dir", str(data_dir), "ingest", "predictions", str(small)],
        check=True,
        capture_output=True,
        env=env,
    )
    assert list(scratch.iterdir()) == []
    assert files_holding(data_dir, b"MRN-") == []


def test_output_piped_to_a_reader_that_has_gone_is_not_an_error_trace(
    data_dir: Path, tmp_path: Path
) -> None:
    # `radqa ingest ... | head -1`: the reader closes the pipe before the summary is printed
    path = _write_batches(tmp_path, files=1, rows=10)[0]
    proc = subprocess.Popen(
        [*RADQA, "--data-dir", str(data_dir), "ingest", "predictions", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert _counts(data_dir) == (10, 10, 1)  # the batch itself was committed


def test_a_broken_pipe_that_is_not_the_output_stays_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a pipe to a child process (Chromium drawing a report's charts, say) breaking is a failure,
    # not a reader of the output that has gone
    def broken(args: object, data_dir: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_dispatch", broken)
    with pytest.raises(BrokenPipeError):
        cli.main(["ingest", "predictions", "x.csv"])
