"""A file sent again after a later file replaced rows it gave is loaded again, so that re-sending
the original reverts a bad correction (a QA tester: A, then B correcting A, then A again was
skipped as 'already loaded ... nothing changed', though the stored rows were B's)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, snapshot_rows, write

A = "1,P1,Osaka,2026-10-01,CR,effusion,M,1,0.4\n2,P2,Osaka,2026-10-02,CR,effusion,M,1,0.7"
B = "1,P1,Osaka,2026-10-01,CR,effusion,M,1,0.9"  # corrects study 1 of A
OTHER = "7,P7,Osaka,2026-10-07,CR,effusion,M,1,0.1"


def _preds(tmp_path: Path, name: str, rows: str) -> Path:
    return write(tmp_path / name, f"{PRED_HEADER}\n{rows}")


def _scores(data_dir: Path) -> list[tuple]:
    return snapshot_rows(data_dir, "select study_uid, score from predictions order by 1")


def test_the_original_sent_again_replaces_the_correction(data_dir: Path, tmp_path: Path) -> None:
    a = _preds(tmp_path, "A.csv", A)
    [first] = ingest_files(data_dir, "predictions", [a])
    [fix] = ingest_files(data_dir, "predictions", [_preds(tmp_path, "B.csv", B)])
    assert (fix.replaced, _scores(data_dir)) == (1, [("1", 0.9), ("2", 0.7)])

    a2 = shutil.copy(a, tmp_path / "A2.csv")
    [again] = ingest_files(data_dir, "predictions", [a2])
    assert (again.status, again.inserted, again.replaced, again.unchanged) == (
        "committed",
        0,
        1,
        1,
    )
    assert again.message == (
        "A2.csv: 2 accepted (0 new, 1 replaced, 1 unchanged), 0 quarantined; same content as "
        f"batch {first.batch_id}, read again as later files replaced 1 of its rows: this file's "
        "values are back"
    )
    assert _scores(data_dir) == [("1", 0.4), ("2", 0.7)]
    # and now nothing of it was replaced since: the fast path again
    [third] = ingest_files(data_dir, "predictions", [a])
    assert (third.status, third.batch_id) == ("unchanged", again.batch_id)
    assert third.message == (
        f"A.csv: already loaded as batch {again.batch_id} (same content); nothing changed"
    )


def test_a_correction_of_other_rows_keeps_the_fast_path(data_dir: Path, tmp_path: Path) -> None:
    """A later file that replaced rows of another file only: the batch still holds every row it
    wrote, so the file is known as loaded without reading it."""
    a = _preds(tmp_path, "A.csv", A)
    [first] = ingest_files(data_dir, "predictions", [a])
    ingest_files(data_dir, "predictions", [_preds(tmp_path, "O.csv", OTHER)])
    [fix] = ingest_files(data_dir, "predictions", [_preds(tmp_path, "O2.csv", OTHER[:-1] + "2")])
    assert fix.replaced == 1
    [again] = ingest_files(data_dir, "predictions", [a])
    assert (again.status, again.batch_id) == ("unchanged", first.batch_id)
    assert _scores(data_dir) == [("1", 0.4), ("2", 0.7), ("7", 0.2)]


def test_a_batch_with_unchanged_rows_is_read_again_and_says_none_changed(
    data_dir: Path, tmp_path: Path
) -> None:
    """A batch that found rows already stored kept them under the earlier batch's id: after a
    later replacement its file is read again, and the message says that nothing of it changed."""
    ingest_files(data_dir, "predictions", [_preds(tmp_path, "Z.csv", A.split("\n")[1])])
    a = _preds(tmp_path, "A.csv", A)
    [first] = ingest_files(data_dir, "predictions", [a])
    assert first.unchanged == 1
    ingest_files(data_dir, "predictions", [_preds(tmp_path, "O.csv", OTHER)])
    ingest_files(data_dir, "predictions", [_preds(tmp_path, "O2.csv", OTHER[:-1] + "2")])
    [again] = ingest_files(data_dir, "predictions", [a])
    assert (again.status, again.replaced, again.unchanged) == ("committed", 0, 2)
    assert again.message.endswith(
        f"; same content as batch {first.batch_id}, read again as later files replaced rows "
        "since (none of this file's had changed)"
    )


def test_reads_sent_again_revert_a_correction(data_dir: Path, tmp_path: Path) -> None:
    rows = "1,effusion,R1,1,2026-10-03\n2,effusion,R1,0,2026-10-03"
    a = write(tmp_path / "r.csv", f"{READ_HEADER}\n{rows}")
    ingest_files(data_dir, "reads", [a])
    fix = write(tmp_path / "r-fix.csv", f"{READ_HEADER}\n1,effusion,R1,0,2026-10-03")
    ingest_files(data_dir, "reads", [fix])
    labels = "select study_uid, label from reads order by 1"
    assert snapshot_rows(data_dir, labels) == [("1", 0), ("2", 0)]
    [again] = ingest_files(data_dir, "reads", [shutil.copy(a, tmp_path / "r-again.csv")])
    assert (again.status, again.replaced, again.unchanged) == ("committed", 1, 1)
    assert snapshot_rows(data_dir, labels) == [("1", 1), ("2", 0)]


def test_the_original_sent_again_reverts_a_study_moved_by_a_later_file(
    data_dir: Path, tmp_path: Path
) -> None:
    """A later file moved study 1 to another site; its prediction rows stayed as they were. The
    original sent again is read again (it was 'already loaded ... nothing changed'), and the
    study's site is back."""
    a = _preds(tmp_path, "A.csv", A)
    [first] = ingest_files(data_dir, "predictions", [a])
    moved = _preds(tmp_path, "M.csv", "1,P1,Busan,2026-10-01,CR,nodule,M,1,0.3")
    ingest_files(data_dir, "predictions", [moved])
    sites = "select study_uid, site from studies order by 1"
    assert snapshot_rows(data_dir, sites) == [("1", "Busan"), ("2", "Osaka")]
    [again] = ingest_files(data_dir, "predictions", [shutil.copy(a, tmp_path / "A2.csv")])
    assert (again.status, again.inserted, again.replaced, again.unchanged) == ("committed", 0, 0, 2)
    assert again.message == (
        "A2.csv: 2 accepted (0 new, 0 replaced, 2 unchanged), 0 quarantined; 1 known study "
        "updated with this file's values (1 now at another site than the one stored: check that "
        "this is a correction, not a mix-up, such as an accession number that two hospitals both "
        f"use); same content as batch {first.batch_id}, read again as later files changed the "
        "values of its studies since"
    )
    assert snapshot_rows(data_dir, sites) == [("1", "Osaka"), ("2", "Osaka")]
    # nothing changed since: the fast path again
    [third] = ingest_files(data_dir, "predictions", [a])
    assert (third.status, third.batch_id) == ("unchanged", again.batch_id)


def test_a_later_file_of_other_studies_keeps_the_fast_path(data_dir: Path, tmp_path: Path) -> None:
    a = _preds(tmp_path, "A.csv", A)
    [first] = ingest_files(data_dir, "predictions", [a])
    ingest_files(data_dir, "predictions", [_preds(tmp_path, "O.csv", OTHER)])
    [again] = ingest_files(data_dir, "predictions", [a])
    assert (again.status, again.batch_id) == ("unchanged", first.batch_id)
