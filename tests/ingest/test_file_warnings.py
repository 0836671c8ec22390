"""Warnings in a predictions file's batch message (ingest/file_warnings.py), rows kept as sent:
a model_version written as a number (a tester: JSON Lines ``"model_version": 2.10`` and a Parquet
float column were stored as ``2.1`` beside a CSV file's ``2.10``, silently), a predicted that
contradicts score >= threshold, and rows without a threshold beside rows with one."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.load import ingest_files
from radqa.settings import Settings
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write

NUMBER_NOTE = (
    "; model_version is written as a number in this file (2.1): a version such as 2.10 reads as "
    '2.1; write versions as text ("2.10")'
)
ROW = {
    "site": "Osaka",
    "finding": "ptx",
    "model_name": "CXR",
    "patient_id": "PAT90001",
    "study_datetime": "2026-10-01T10:00:00",
    "modality": "CR",
    "score": 0.8,
}


def _jsonl(path: Path, versions: list[str]) -> Path:
    """A JSON Lines file whose model_version tokens are written as given (2.10, "2.10")."""
    lines = []
    for i, version in enumerate(versions):
        row = json.dumps({"study_uid": f"1.{i}", **ROW})
        lines.append(row[:-1] + f', "model_version": {version}}}')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_json_lines_numbers_are_named(data_dir: Path, tmp_path: Path) -> None:
    numbers = _jsonl(tmp_path / "n.jsonl", ["2.10", "2.10"])
    [result] = ingest_files(data_dir, "predictions", [numbers], publish=False)
    assert result.message == (
        f"n.jsonl: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined{NUMBER_NOTE}"
    )
    # text versions, and whole numbers (read as written, as from a CSV file): nothing to say
    for name, versions in (("t.jsonl", ['"2.10"', '"2.10"']), ("w.jsonl", ["3", "3"])):
        [result] = ingest_files(data_dir, "predictions", [_jsonl(tmp_path / name, versions)])
        assert "model_version" not in result.message
    # a number after text in the first lines
    [result] = ingest_files(
        data_dir, "predictions", [_jsonl(tmp_path / "m.jsonl", ['"2.10"', "2.1", "2.1"])]
    )
    assert result.message.endswith(NUMBER_NOTE)  # min of "2.10", "2.1": 2.1


def test_a_parquet_float_version_column_is_named(data_dir: Path, tmp_path: Path) -> None:
    columns = {k: [v] * 2 for k, v in ROW.items()} | {"study_uid": ["1.1", "1.2"]}
    pq.write_table(
        pa.table({**columns, "model_version": pa.array([2.1, 2.1], pa.float32())}),
        tmp_path / "f.parquet",
    )
    pq.write_table(
        pa.table({**columns, "model_version": pa.array(["2.10", "2.10"])}), tmp_path / "t.parquet"
    )
    floats, text = ingest_files(
        data_dir, "predictions", [tmp_path / "f.parquet", tmp_path / "t.parquet"], publish=False
    )
    assert floats.message == (
        f"f.parquet: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined{NUMBER_NOTE}"
    )
    assert text.message == "t.parquet: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined"


def test_contradicting_calls_and_mixed_thresholds_are_counted(
    data_dir: Path, tmp_path: Path
) -> None:
    # the tester's file: 3.3 and 3.4 contradict their own threshold; 3.5-3.8 give a call and no
    # threshold (not judged: the threshold used is not known); 3.2 takes the operating point
    path = write(
        tmp_path / "c.csv",
        """
study_uid,site,finding,model_name,model_version,patient_id,study_datetime,modality,score,threshold,predicted
3.1,Malmo,nodule,LungAI,3.0,PAT70001,2026-10-01,CT,0.4,0.5,
3.2,Malmo,nodule,LungAI,3.0,PAT70002,2026-10-01,CT,0.4,,
3.3,Malmo,nodule,LungAI,3.0,PAT70003,2026-10-01,CT,0.9,0.5,0
3.4,Malmo,nodule,LungAI,3.0,PAT70004,2026-10-01,CT,0.1,0.5,1
3.5,Malmo,nodule,LungAI,3.0,PAT70005,2026-10-01,CT,0.45,,1
3.6,Malmo,nodule,LungAI,3.0,PAT70006,2026-10-01,CT,0.45,,true
3.7,Malmo,nodule,LungAI,3.0,PAT70007,2026-10-01,CT,0.45,,yes
3.8,Malmo,nodule,LungAI,3.0,PAT70008,2026-10-01,CT,0.45,,1.0
3.9,Malmo,nodule,LungAI,3.0,PAT70009,2026-10-01,CT,0.45,0.4,maybe
""",
    )
    settings = Settings(data_dir=data_dir, operating_points={"LungAI/nodule": 0.3})
    [result] = ingest_files(data_dir, "predictions", [path], settings=settings)
    assert result.message == (
        "c.csv: 8 accepted (8 new, 0 replaced, 0 unchanged), 1 quarantined; 2 rows give a "
        "predicted that disagrees with score >= threshold (kept as sent); 5 rows give no "
        "threshold (4 with a predicted call of their own) and take 0.3 (radqa.toml's operating "
        "point for LungAI/nodule), while 3 rows give their own"
    )
    stored = snapshot_rows(
        data_dir, "select study_uid, threshold, predicted from predictions order by 1"
    )
    assert stored[:4] == [("3.1", 0.5, False), ("3.2", 0.3, True), ("3.3", 0.5, False),
                          ("3.4", 0.5, True)]  # fmt: skip


def test_one_of_each_and_nothing_to_say(data_dir: Path, tmp_path: Path) -> None:
    rows = [
        "1.1,P1,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.9,0.5,0",
        "1.2,P2,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.9,,",
    ]
    one = write(tmp_path / "one.csv", "\n".join([f"{PRED_HEADER},threshold,predicted", *rows]))
    [result] = ingest_files(data_dir, "predictions", [one], publish=False)
    assert result.message.endswith(
        "; 1 row gives a predicted that disagrees with score >= threshold (kept as sent); 1 row "
        "gives no threshold and takes 0.5 (no operating point set for CXR/ptx), while 1 row "
        "gives its own"
    )
    # every row gives its threshold and agrees; a file without a threshold column
    agree = write(
        tmp_path / "agree.csv",
        f"{PRED_HEADER},threshold,predicted\n1.3,P3,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.9,0.5,1",
    )
    bare = write(
        tmp_path / "bare.csv", f"{PRED_HEADER}\n1.4,P4,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.9"
    )
    for result in ingest_files(data_dir, "predictions", [agree, bare], publish=False):
        assert result.message.endswith("0 quarantined"), result.message


def test_a_json_lines_file_in_another_encoding_loads(data_dir: Path, tmp_path: Path) -> None:
    # read from a UTF-8 copy, removed once read: its first lines are not sampled again, and
    # trying must not abort the batch's transaction (the rows are stored)
    path = tmp_path / "sj.jsonl"
    row = json.dumps({"study_uid": "1.1", **ROW, "site": "大阪病院"}, ensure_ascii=False)
    path.write_bytes((row[:-1] + ', "model_version": 2.10}\n').encode("cp932"))
    [result] = ingest_files(data_dir, "predictions", [path], encoding="cp932")
    assert (result.status, result.inserted) == ("committed", 1)
    assert snapshot_rows(data_dir, "select site, model_version from studies join predictions "
                         "using (study_uid)") == [("大阪病院", "2.1")]  # fmt: skip
