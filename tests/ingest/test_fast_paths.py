"""The first-load fast paths (empty predictions / studies tables) give the same tables as the
general merge, and the per-study values follow the ``max()`` rule where a study's rows disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write

# Study 1.2.1's rows disagree (site, scanner model, age); 1.2.2's agree; 1.2.3 has a bad row
# (its good row alone makes the study); a duplicate key in 1.2.2 (the last row is kept).
ROWS = f"""
{PRED_HEADER},scanner_model,patient_age,patient_sex
1.2.1,P001,Kobe,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.91,,40,M
1.2.1,P001,Osaka,2026-10-01,CR,effusion,ChestXR,2.1,0.20,Ysio,50,M
1.2.1,P001,Busan,2026-10-01,CR,nodule,ChestXR,2.1,0.30,Aaa,,M
1.2.2,P002,Seoul,2026-10-02,DX,pneumothorax,ChestXR,2.1,0.10,Ysio,61,F
1.2.2,P002,Seoul,2026-10-02,DX,effusion,ChestXR,2.1,0.50,Ysio,61,F
1.2.2,P002,Seoul,2026-10-02,DX,effusion,ChestXR,2.1,0.55,Ysio,61,F
1.2.3,P003,Kobe,2026-10-03,CT,bleed,CT-ICH,1.0,0.70,Opt,33,O
1.2.3,P003,Kobe,2026-10-03,CT,edema,CT-ICH,1.0,abc,Opt,33,O
"""
# An unrelated study loaded first, so that the second data dir takes the general merge path.
OTHER = f"{PRED_HEADER}\n9.9.9,P999,Osaka,2026-09-01,MR,lesion,MR-Brain,1,0.42"

STUDIES = (
    "select study_uid, site, modality, scanner_model, study_datetime::varchar, patient_age, "
    "patient_sex, patient_pid, source from studies where study_uid <> '9.9.9' order by 1"
)
PREDICTIONS = (
    "select study_uid, finding, model_name, model_version, score, predicted, threshold, "
    "threshold_source, extra, row_hash from predictions where study_uid <> '9.9.9' order by 1, 2"
)


@pytest.fixture
def loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The same file loaded into an empty store (fast path) and after another batch (merge)."""
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "test-key-0123456789")
    rows = write(tmp_path / "rows.csv", ROWS)
    fast, general = tmp_path / "fast", tmp_path / "general"
    ingest_files(general, "predictions", [write(tmp_path / "other.csv", OTHER)])
    for data_dir in (fast, general):
        [result] = ingest_files(data_dir, "predictions", [rows])
        assert (result.inserted, result.replaced, result.quarantined) == (6, 0, 2)
    return fast, general


def test_first_load_and_merge_give_the_same_tables(loaded: tuple[Path, Path]) -> None:
    fast, general = loaded
    assert snapshot_rows(fast, STUDIES) == snapshot_rows(general, STUDIES)
    assert snapshot_rows(fast, PREDICTIONS) == snapshot_rows(general, PREDICTIONS)
    assert snapshot_rows(fast, "select count(*) from predictions") == [(6,)]
    assert snapshot_rows(general, "select count(*) from predictions") == [(7,)]


def test_study_values_are_the_max_where_rows_disagree(loaded: tuple[Path, Path]) -> None:
    for data_dir in loaded:
        rows = [r[:7] for r in snapshot_rows(data_dir, STUDIES)]
        assert rows == [
            # max per column: 'Osaka' > 'Kobe' > 'Busan', 'Ysio' > 'Aaa', 50 > 40 (NULL ignored)
            ("1.2.1", "Osaka", "CR", "Ysio", "2026-10-01 00:00:00", 50, "M"),
            ("1.2.2", "Seoul", "DX", "Ysio", "2026-10-02 00:00:00", 61, "F"),
            ("1.2.3", "Kobe", "CT", "Opt", "2026-10-03 00:00:00", 33, "O"),
        ]
        scores = snapshot_rows(
            data_dir, "select score from predictions where study_uid = '1.2.2' order by 1"
        )
        assert scores == [(0.1,), (0.55,)]  # the duplicate's last row won


def test_a_second_load_over_a_fast_first_load_is_unchanged(
    loaded: tuple[Path, Path], tmp_path: Path
) -> None:
    fast, _ = loaded
    again = tmp_path / "again.csv"
    again.write_bytes(ROWS.strip().replace("\n", "\r\n").encode())  # other bytes, same rows
    [result] = ingest_files(fast, "predictions", [again])
    assert (result.inserted, result.replaced, result.unchanged) == (0, 0, 6)
    assert snapshot_rows(fast, "select count(*), count(distinct study_uid) from studies") == [
        (3, 3)
    ]
