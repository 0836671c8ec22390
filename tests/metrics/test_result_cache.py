"""The disk level of the per-snapshot result cache (metrics._cache)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import metrics
from metrics import _cache, _grouped
from radqa import store


@pytest.fixture
def snapshot_dir(tmp_path: Path) -> Path:
    con = store.connect_working(tmp_path)
    con.execute(
        "insert into studies (study_uid, site) values ('s1', 'A'), ('s2', 'A'), ('s3', 'B')"
    )
    con.execute(
        "insert into predictions values "
        "('s1', 'ich', 'm', '1', 0.9, true, 0.5, 'file', null, 0, 1), "
        "('s2', 'ich', 'm', '1', 0.2, false, 0.5, 'file', null, 0, 1), "
        "('s3', 'ich', 'm', '1', 0.7, true, 0.5, 'file', null, 0, 1)"
    )
    con.execute(
        "insert into reads (study_uid, finding, reader_pid, read_role, arm, label, "
        "read_datetime, row_hash, batch_id) values "
        "('s1', 'ich', 'r', 'primary', '', 1, now(), 0, 2), "
        "('s2', 'ich', 'r', 'primary', '', 0, now(), 0, 2)"
    )
    store.refresh_reference(con)
    store.publish_snapshot(con, tmp_path)
    con.close()
    return tmp_path


def _fail(*args, **kwargs):
    raise AssertionError("recomputed instead of read from the disk cache")


def test_a_new_process_reads_the_result_from_disk(snapshot_dir, monkeypatch):
    monkeypatch.setenv("RADQA_RESULT_CACHE", "1")
    _cache.RESULTS.clear()
    con = store.open_snapshot(snapshot_dir)
    first = metrics.summarize(con, by=("site",), min_n=1)
    sid = con.execute("select snapshot_id from snapshot_info").fetchall()[0][0]
    files = list((snapshot_dir / "cache" / sid).glob("*.pkl"))
    assert len(files) == 1
    assert first["n"].tolist() == [2, 1] and first["tp"].tolist() == [1, 0]

    _cache.RESULTS.clear()  # as in a new process: only the disk level is left
    monkeypatch.setattr(_grouped, "summary_counts", _fail)
    again = metrics.summarize(con, by=("site",), min_n=1)
    pd.testing.assert_frame_equal(first, again)
    assert again.attrs["snapshot_id"] == sid

    _cache.RESULTS.clear()  # another argument is another key: computed (and here refused)
    with pytest.raises(AssertionError, match="recomputed"):
        metrics.summarize(con, by=("site",), min_n=2)

    _cache.RESULTS.clear()  # a damaged file is recomputed, not trusted
    files[0].write_bytes(b"not a pickle")
    with pytest.raises(AssertionError, match="recomputed"):
        metrics.summarize(con, by=("site",), min_n=1)
    con.close()


def test_disk_level_off(snapshot_dir, monkeypatch):
    monkeypatch.setenv("RADQA_RESULT_CACHE", "0")
    _cache.RESULTS.clear()
    con = store.open_snapshot(snapshot_dir)
    metrics.summarize(con, by=("site",), min_n=1)
    assert not (snapshot_dir / "cache").exists()
    con.close()
    _cache.RESULTS.clear()


def test_read_only_block_reads_the_disk_level_but_never_writes_it(snapshot_dir, monkeypatch):
    monkeypatch.setenv("RADQA_RESULT_CACHE", "1")
    _cache.RESULTS.clear()
    con = store.open_snapshot(snapshot_dir)
    with _cache.disk_read_only():
        first = metrics.summarize(con, by=("site",), min_n=1)
    assert first["n"].tolist() == [2, 1]
    assert not (snapshot_dir / "cache").exists()
    _cache.RESULTS.clear()
    metrics.summarize(con, by=("site",), min_n=1)  # outside the block: written as before
    assert len(list((snapshot_dir / "cache").rglob("*.pkl"))) == 1
    _cache.RESULTS.clear()
    monkeypatch.setattr(_grouped, "summary_counts", _fail)
    with _cache.disk_read_only():  # and read inside it
        pd.testing.assert_frame_equal(first, metrics.summarize(con, by=("site",), min_n=1))
    con.close()
    _cache.RESULTS.clear()


def test_key_covers_the_code_version(monkeypatch):
    key = ("sid", "metrics._grouped", "_summarize", (("site",), None), ())
    name = _cache._disk_key(key)
    monkeypatch.setattr(_cache, "CODE_VERSION", "another-version")
    assert _cache._disk_key(key) != name
    assert _cache._disk_key(("sid", object())) is None  # no stable text form: not on disk
