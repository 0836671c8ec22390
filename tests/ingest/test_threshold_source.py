"""A row that gives its call (``predicted``) but no threshold does not claim the operating point
of radqa.toml as the threshold it used (a QA tester, qa9/config fault 13: score 0.4, predicted 0,
stored with threshold 0.35 and threshold_source 'configured')."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from radqa.settings import Settings

from .conftest import PRED_HEADER, snapshot_rows, write


def test_a_call_without_a_threshold_is_marked_as_the_files_call(
    data_dir: Path, tmp_path: Path
) -> None:
    text = f"""
{PRED_HEADER},predicted,threshold
1.1,P1,Osaka,2026-10-01,CR,pneumothorax,ChestXR-Triage,2.1,0.4,0,
1.2,P2,Osaka,2026-10-01,CR,pneumothorax,ChestXR-Triage,2.1,0.4,,
1.3,P3,Osaka,2026-10-01,CR,pneumothorax,ChestXR-Triage,2.1,0.4,0,0.45
1.4,P4,Osaka,2026-10-01,CR,effusion,ChestXR-Triage,2.1,0.4,1,
1.5,P5,Osaka,2026-10-01,CR,effusion,ChestXR-Triage,2.1,0.4,,
"""
    settings = Settings(data_dir=data_dir, operating_points={"ChestXR-Triage/pneumothorax": 0.35})
    [result] = ingest_files(
        data_dir, "predictions", [write(tmp_path / "p.csv", text)], settings=settings
    )
    assert (result.status, result.inserted) == ("committed", 5)
    rows = snapshot_rows(
        data_dir,
        "select study_uid, score, threshold, threshold_source, predicted from predictions "
        "order by 1",
    )
    assert rows == [
        # the file's call: its threshold is unknown; the operating point is kept for reference
        ("1.1", 0.4, 0.35, "predicted", False),
        ("1.2", 0.4, 0.35, "configured", True),  # the operating point made the call
        ("1.3", 0.4, 0.45, "file", False),  # the file says both
        ("1.4", 0.4, 0.5, "predicted", True),  # the file's call, not 0.5's
        ("1.5", 0.4, 0.5, "default", False),
    ]
