"""A reads file with a patient_id column, or a predictions file with a reader_id column (most RIS
exports carry the patient's id beside each read): the column is not part of that file's contract,
so it is not stored, not even in quarantine, and the file loads (a tester: a KeyError traceback,
exit 1, nothing loaded)."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, working_rows, write


def test_a_reads_file_with_patient_ids_loads_without_them(data_dir: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv",
        f"{READ_HEADER},Patient_ID\n"
        "1.1,ptx,DRX5001,1,2026-10-05,PAT90001\n"
        "1.2,ptx,DRX5001,maybe,2026-10-05,PAT90002",
    )
    [result] = ingest_files(data_dir, "reads", [path], publish=False)
    assert (result.status, result.inserted, result.quarantined) == ("committed", 1, 1)
    assert result.message == (
        "r.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 1 quarantined; its study is not "
        "known yet (no prediction or DICOM header has named it): the reads wait for their "
        "predictions; if those never come, check that both files name a study by the same "
        "study_uid (the StudyInstanceUID in both, or the accession number in both); "
        "not stored: column(s) "
        "'patient_id' (a read meets its study by study_uid; only a predictions file's patient_id "
        "is kept, as a pseudonym)"
    )
    [(raw,)] = working_rows(data_dir, "select raw::varchar from quarantine")
    assert "PAT9" not in raw and "patient" not in raw and '"study_uid":"1.2"' in raw
    assert files_holding(data_dir, b"PAT90001", b"PAT90002", b"DRX5001") == []


def test_a_predictions_file_with_reader_ids_loads_without_them(
    data_dir: Path, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "p.csv",
        f"{PRED_HEADER},reader_id\n"
        "1.1,PAT90001,Osaka,2026-10-01,CR,ptx,M,1,0.5,DRX5001\n"
        "1.2,PAT90002,Osaka,2026-10-01,CR,ptx,M,1,abc,DRX5002",
    )
    [result] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert (result.status, result.inserted, result.quarantined) == ("committed", 1, 1)
    assert result.message.endswith(
        "; not stored: column(s) 'reader_id' (a prediction has no reader; only a reads file's "
        "reader_id is kept, as a pseudonym)"
    )
    [(raw,)] = working_rows(data_dir, "select raw::varchar from quarantine")
    assert "DRX" not in raw and "reader" not in raw and '"patient_pid"' in raw
    assert files_holding(data_dir, b"PAT90001", b"PAT90002", b"DRX5001", b"DRX5002") == []
