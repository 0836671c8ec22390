"""A contract text value longer than MAX_TEXT characters is quarantined (a cell that swallowed
others, a report pasted into the site column); a patient or reader id of any length is stored as
its pseudonym; extra columns have no limit."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.contract import MAX_TEXT
from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write


def test_long_text_values_are_quarantined_with_their_length(data_dir: Path, tmp_path: Path) -> None:
    assert MAX_TEXT == 256
    long_site = "Ōsaka General " * 30  # 420 characters, 450 bytes in UTF-8
    long_pid = "PATLONG" + "9" * 400
    text = f"""
{PRED_HEADER},free_text
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.9,short
1.2.2,P002,{long_site},2026-10-01,CR,pneumothorax,ChestXR,2.1,0.8,x
1.2.3,P003,Osaka,2026-10-01,CR,{"n" * 256},ChestXR,2.1,0.7,{"report " * 200}
1.2.4,{long_pid},Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.6,y
1.2.5,P005,Osaka,2026-10-01,CR,pneumothorax,ChestXR,{"v" * 257},0.5,z
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "p.csv", text)])
    assert (result.inserted, result.quarantined) == (3, 2)
    assert result.reasons == [
        f"p.csv: row 2: column 'site' is '{long_site[:60]}', 419 characters long; "
        f"expected text of at most {MAX_TEXT} characters",
        f"p.csv: row 5: column 'model_version' is '{'v' * 60}', 257 characters long; "
        f"expected text of at most {MAX_TEXT} characters",
    ]
    # 256 characters is within the limit; the extra column's 1,600 are kept whole
    rows = snapshot_rows(
        data_dir, "select study_uid, length(finding), extra from predictions order by 1"
    )
    assert [(r[0], r[1]) for r in rows] == [("1.2.1", 12), ("1.2.3", 256), ("1.2.4", 12)]
    assert len(json.loads(rows[1][2])["free_text"]) == len("report " * 200)
    # the long patient id loaded as a pseudonym; nowhere in the data dir as written
    assert files_holding(data_dir, long_pid.encode()) == []
    # the quarantined row keeps its whole value, so nothing is lost
    [[raw]] = snapshot_rows(data_dir, "select raw from quarantine where row_number = 2")
    assert json.loads(raw)["site"] == long_site


def test_long_values_of_reads_and_parquet(data_dir: Path, tmp_path: Path) -> None:
    reads = f"""
{READ_HEADER},arm
1.2.1,pneumothorax,R1,1,2026-10-02,{"A" * 300}
1.2.2,pneumothorax,R1,0,2026-10-02,unaided
"""
    [result] = ingest_files(data_dir, "reads", [write(tmp_path / "r.csv", reads)])
    assert (result.inserted, result.quarantined) == (1, 1)
    assert result.reasons == [
        f"r.csv: row 1: column 'arm' is '{'A' * 60}', 300 characters long; "
        f"expected text of at most {MAX_TEXT} characters"
    ]
    table = pa.table(
        {
            "study_uid": ["9.1", "9." + "1" * 300],
            "patient_id": ["P1", "P2"],
            "site": ["Kobe", "Kobe"],
            "study_datetime": ["2026-10-01", "2026-10-01"],
            "modality": ["CT", "CT"],
            "finding": ["ich", "ich"],
            "model_name": ["m", "m"],
            "model_version": ["1", "1"],
            "score": [0.2, 0.4],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "p.parquet"])
    assert (result.inserted, result.quarantined) == (1, 1)
    assert result.reasons == [
        f"p.parquet: row 2: column 'study_uid' is '9.{'1' * 58}', 302 characters long; "
        f"expected text of at most {MAX_TEXT} characters"
    ]
