"""A JSON Lines contract column that holds an object or an array is a bad row (it was read as its
JSON text: a site named '{"n":"Osaka"}', a patient pseudonymised from '{"mrn":"P1"}'); a string
that merely starts with a brace (a GUID) is text, and an extra column keeps its nested value."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import files_holding, snapshot_rows


def _line(**changes: object) -> str:
    row: dict[str, object] = {
        "study_uid": "1.2.1",
        "patient_id": "P1",
        "site": "Osaka",
        "study_datetime": "2026-10-01",
        "modality": "CR",
        "finding": "nodule",
        "model_name": "m",
        "model_version": "1",
        "score": 0.5,
        "scanner": {"maker": "Fuji", "model": "FDR"},
    }
    row.update(changes)
    return json.dumps(row)


def test_objects_and_arrays_in_contract_columns_are_quarantined(
    data_dir: Path, tmp_path: Path
) -> None:
    lines = [
        _line(study_uid="1.2.1", patient_id={"mrn": "PATOBJ1"}),
        _line(study_uid="1.2.2", site=["Osaka", "Kobe"]),
        _line(study_uid="1.2.3", patient_id="{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"),
        _line(study_uid="1.2.4", site="[Osaka]"),
        _line(study_uid="1.2.5", finding={"name": "nodule"}, patient_id=["PATARR5"]),
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(lines) + "\n")
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.inserted, result.quarantined) == (2, 3)
    expected = "; expected one value (text, a number or true/false)"
    assert result.reasons == [
        f"p.jsonl: row 1: column 'patient_id' holds a JSON object{expected}",
        f"p.jsonl: row 2: column 'site' holds a JSON array{expected}",
        f"p.jsonl: row 5: column 'patient_id' holds a JSON array{expected}",
    ]
    rows = snapshot_rows(
        data_dir,
        "select study_uid, site, extra from predictions join studies using (study_uid) order by 1",
    )
    assert [r[:2] for r in rows] == [("1.2.3", "Osaka"), ("1.2.4", "[Osaka]")]
    assert json.loads(rows[0][2]) == {"scanner": {"maker": "Fuji", "model": "FDR"}}
    assert files_holding(data_dir, b"PATOBJ1", b"PATARR5") == []
