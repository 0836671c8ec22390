"""More warnings in a batch message (ingest/file_warnings.py), rows kept as sent: what the rows
without a threshold took (radqa.toml's operating point, with its value, or 0.5; the old message
said 'the operating point (or 0.5)' without saying which)."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from radqa.settings import Settings
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write


def _preds(path: Path, rows: list[str], extra: str = ",threshold") -> Path:
    return write(path, "\n".join([PRED_HEADER + extra, *rows]))


def test_rows_without_a_threshold_say_they_take_0_5(data_dir: Path, tmp_path: Path) -> None:
    # the brief's hospital file: 1,204 rows without a threshold, 8,801 with, no operating point
    row = "{i},P{i},Osaka,2026-10-01,CR,pneumothorax,chexnet,2.1,0.6,{t}"
    rows = [row.format(i=i, t="" if i < 1204 else "0.4") for i in range(1204 + 8801)]
    [result] = ingest_files(data_dir, "predictions", [_preds(tmp_path / "p.csv", rows)])
    assert result.message == (
        "p.csv: 10005 accepted (10005 new, 0 replaced, 0 unchanged), 0 quarantined; 1,204 rows "
        "give no threshold and take 0.5 (no operating point set for chexnet/pneumothorax), while "
        "8,801 rows give their own"
    )
    stored = snapshot_rows(
        data_dir, "select threshold_source, threshold, count(*) from predictions group by all "
        "order by 1"
    )  # fmt: skip
    assert stored == [("default", 0.5, 1204), ("file", 0.4, 8801)]


def test_an_operating_point_and_0_5_are_told_apart(data_dir: Path, tmp_path: Path) -> None:
    rows = [
        "1.1,P1,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,,0",  # the file's call; 0.35 for reference
        "1.2,P2,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,,",  # 0.35 makes the call
        "1.3,P3,Osaka,2026-10-01,CR,effusion,CXR,2.1,0.4,,",  # no operating point: 0.5
        "1.4,P4,Osaka,2026-10-01,CR,effusion,CXR,2.1,0.4,0.3,",
    ]
    settings = Settings(data_dir=data_dir, operating_points={"CXR/ptx": 0.35})
    path = _preds(tmp_path / "m.csv", rows, ",threshold,predicted")
    [result] = ingest_files(data_dir, "predictions", [path], settings=settings)
    assert result.message.endswith(
        "0 quarantined; 3 rows give no threshold (1 with a predicted call of their own): 2 take "
        "0.35 (radqa.toml's operating point for CXR/ptx) and 1 takes 0.5 (no operating point set "
        "for CXR/effusion), while 1 row gives its own"
    ), result.message
    stored = snapshot_rows(
        data_dir, "select study_uid, threshold, threshold_source from predictions order by 1"
    )
    assert stored == [("1.1", 0.35, "predicted"), ("1.2", 0.35, "configured"),
                      ("1.3", 0.5, "default"), ("1.4", 0.3, "file")]  # fmt: skip
    # one row without a threshold, which takes the operating point
    one = _preds(
        tmp_path / "one.csv",
        [
            "2.1,P5,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,",
            "2.2,P6,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,0.3",
        ],
    )
    [result] = ingest_files(data_dir, "predictions", [one], settings=settings)
    assert result.message.endswith(
        "; 1 row gives no threshold and takes 0.35 (radqa.toml's operating point for CXR/ptx), "
        "while 1 row gives its own"
    ), result.message


def test_many_pairs_are_summarised(data_dir: Path, tmp_path: Path) -> None:
    findings = ["a", "b", "c", "d", "e"]
    rows = [
        f"{i}.{j},P{i}{j},Osaka,2026-10-01,CR,{f},M,1,0.4,"
        for i, f in enumerate(findings)
        for j in range(5 - i)  # a: 5 rows, ... e: 1 row
    ]
    rows.append("9.1,P91,Osaka,2026-10-01,CR,a,M,1,0.4,0.2")
    [result] = ingest_files(data_dir, "predictions", [_preds(tmp_path / "s.csv", rows)])
    assert result.message.endswith(
        "; 15 rows give no threshold and take 0.5 (no operating point set for M/a, M/b and 3 "
        "more model_name/finding pairs), while 1 row gives its own"
    ), result.message
    # operating points: several values, named while few, then their range
    from ingest.file_warnings import _taken  # (imported here: the old module had none)

    points = {f"M/{f}": 0.1 * (i + 1) for i, f in enumerate(findings)}
    groups = [("M", f, 5 - i, 0) for i, f in enumerate(findings)]
    assert _taken(groups[:2], points) == (
        " and take radqa.toml's operating points (0.1 for M/a, 0.2 for M/b)"
    )
    assert _taken(groups, points) == (
        " and take radqa.toml's operating points (0.1 to 0.5 for 5 model_name/finding pairs)"
    )
    assert _taken([*groups[:2], ("N", "x", 1204, 0)], {"M/a": 0.3, "M/b": 0.3}) == (
        ": 9 take 0.3 (radqa.toml's operating point for M/a and M/b) and 1,204 take 0.5 (no "
        "operating point set for N/x)"
    )
