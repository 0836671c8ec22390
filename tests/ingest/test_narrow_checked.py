"""The checking table holds only the columns the file has; the rows read back from it (stored
predictions, a duplicate's quarantined values) still carry the absent columns as NULL and the
derived threshold, predicted flag and threshold source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.load import ingest_files
from radqa.settings import Settings
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write

# Row 3 is a duplicate of row 4; row 5 breaks three rules; row 7 has a value beyond the header.
ROWS = f"""
{PRED_HEADER},threshold,predicted,body_part,custom,patient_age
1.1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.9,0.7,,chest,x,50
1.1,P1,Osaka,2026-10-01,CR,eff,M,1,0.3,,1,chest,y,50
1.2,P2,Kobe,2026-10-02,DX,ptx,M,1,0.6,,,,z,
1.2,P2,Kobe,2026-10-02,DX,ptx,M,1,0.65,,,,z2,
1.3,P3,Kobe,bad,DX,ptx,M,1,0.6,2,,,w,200
1.4,P4,Kobe,2026-10-02,DX,ptx,N,2,0.4,,,,v,
1.5,P5,Kobe,2026-10-02,DX,ptx,M,1,0.4,0.3,0,,v,,extra1
"""


@pytest.fixture
def loaded(data_dir: Path, tmp_path: Path) -> Path:
    settings = Settings(data_dir=data_dir, operating_points={"M/ptx": 0.55})
    [result] = ingest_files(
        data_dir, "predictions", [write(tmp_path / "a.csv", ROWS)], settings=settings
    )
    assert (result.inserted, result.quarantined) == (4, 3)
    return data_dir


def test_derived_values_and_extras_are_stored(loaded: Path) -> None:
    rows = snapshot_rows(
        loaded,
        "select study_uid, finding, model_name, score, predicted, threshold, threshold_source, "
        "extra from predictions order by 1, 2",
    )
    assert rows == [
        ("1.1", "eff", "M", 0.3, True, 0.5, "predicted", '{"custom":"y"}'),  # file's predicted
        ("1.1", "ptx", "M", 0.9, True, 0.7, "file", '{"custom":"x"}'),
        ("1.2", "ptx", "M", 0.65, True, 0.55, "configured", '{"custom":"z2"}'),  # last row
        ("1.4", "ptx", "N", 0.4, False, 0.5, "default", '{"custom":"v"}'),
    ]
    studies = snapshot_rows(
        loaded, "select study_uid, body_part, station, patient_age from studies order by 1"
    )
    assert studies == [
        ("1.1", "chest", None, 50),
        ("1.2", None, None, None),
        ("1.4", None, None, None),
    ]


def test_a_duplicate_is_quarantined_with_every_column_in_order(loaded: Path) -> None:
    [(raw,)] = snapshot_rows(loaded, "select raw from quarantine where row_number = 3")
    values = json.loads(raw)
    assert list(values) == [
        "study_uid", "patient_pid", "site", "study_datetime", "modality", "finding",
        "model_name", "model_version", "score", "body_part", "scanner_manufacturer",
        "scanner_model", "scanner_software", "station", "patient_age", "patient_sex",
        "threshold", "predicted", "threshold_source", "extra",
    ]  # fmt: skip
    assert (values["score"], values["threshold"], values["predicted"]) == (0.6, 0.55, True)
    assert values["threshold_source"] == "configured" and values["extra"] == {"custom": "z"}
    assert values["station"] is None and len(values["patient_pid"]) == 24


def test_bad_rows_keep_their_reasons(loaded: Path) -> None:
    reasons = snapshot_rows(
        loaded, "select row_number, column_name, reason from quarantine order by row_number"
    )
    assert [r[:2] for r in reasons] == [(3, "study_uid"), (5, "study_datetime"), (7, "(row)")]
    assert reasons[2][2] == (
        "a.csv: row 7: the row has 15 fields, more than the header's 14 columns "
        "(a delimiter in a value that is not quoted?)"
    )
    assert "column 'threshold' is '2'" in reasons[1][2]
