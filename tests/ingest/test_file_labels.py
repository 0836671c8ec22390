"""Files of one command with the same base name (``sites/*/preds.csv``) are named by their path
from the folder they share, in messages, quarantine reasons and the batch history."""

from __future__ import annotations

from pathlib import Path

from ingest.load import file_labels, ingest_files
from tests.ingest.conftest import PRED_HEADER, working_rows, write


def _site_file(folder: Path, score: str) -> Path:
    folder.mkdir(parents=True)
    return write(
        folder / "preds.csv",
        f"{PRED_HEADER}\n"
        f"{folder.name}-1,P1,{folder.name},2026-10-01,CR,ptx,M,1,0.5\n"
        f"{folder.name}-2,P2,{folder.name},2026-10-01,CR,ptx,M,1,{score}",
    )


def test_same_base_names_are_told_apart_by_their_folders(data_dir: Path, tmp_path: Path) -> None:
    osaka = _site_file(tmp_path / "sites" / "osaka", "abc")
    busan = _site_file(tmp_path / "sites" / "busan", "1.5")
    results = ingest_files(data_dir, "predictions", [str(tmp_path / "sites" / "*" / "preds.csv")])
    # the glob sorts busan first
    assert [r.file for r in results] == ["busan/preds.csv", "osaka/preds.csv"]
    assert results[0].reasons == [
        "busan/preds.csv: row 2: column 'score' is '1.5'; expected a number between 0 and 1"
    ]
    assert results[1].reasons == [
        "osaka/preds.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1"
    ]
    assert results[1].message.startswith("osaka/preds.csv: 1 accepted (1 new")
    assert working_rows(data_dir, "select file_name from ingest_batches order by batch_id") == [
        ("busan/preds.csv",),
        ("osaka/preds.csv",),
    ]
    assert working_rows(
        data_dir, "select split_part(reason, ':', 1) from quarantine order by batch_id"
    ) == [("busan/preds.csv",), ("osaka/preds.csv",)]
    assert osaka.exists() and busan.exists()


def test_a_refused_file_is_named_by_its_label_once(data_dir: Path, tmp_path: Path) -> None:
    good = _site_file(tmp_path / "a", "0.7")
    bad_folder = tmp_path / "b"
    bad_folder.mkdir()
    bad = write(bad_folder / "preds.csv", "study_uid,site\nx,y")
    results = ingest_files(data_dir, "predictions", [good, bad])
    assert results[0].status == "committed" and results[0].file == "a/preds.csv"
    assert results[1].status == "refused"
    assert results[1].message.startswith("b/preds.csv: missing required column(s): patient_id,")
    assert "b/b/" not in results[1].message
    missing = tmp_path / "c" / "preds.csv"
    [result] = ingest_files(data_dir, "predictions", [missing, good])[:1]
    assert result.status == "refused" and result.file == "c/preds.csv"
    assert "c/c/" not in result.message and "c/preds.csv" in result.message


def test_a_lone_file_keeps_its_base_name(tmp_path: Path) -> None:
    a, b = tmp_path / "x" / "preds.csv", tmp_path / "y" / "reads.csv"
    assert file_labels([a, b]) == {a: "preds.csv", b: "reads.csv"}
    # the same file given twice is one file
    assert file_labels([a, Path(str(a))]) == {a: "preds.csv"}
    deep = tmp_path / "2026" / "10" / "osaka" / "preds.csv"
    other = tmp_path / "2026" / "11" / "preds.csv"
    assert file_labels([deep, other]) == {deep: "10/osaka/preds.csv", other: "11/preds.csv"}
