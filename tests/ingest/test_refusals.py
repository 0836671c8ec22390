"""How ingest opens and refuses input files: what a refusal says, and that it quotes no value."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, files_holding, working_rows, write

PRED_REQUIRED = PRED_HEADER.replace(",", ", ")
READ_REQUIRED = "study_uid, finding, reader_id, label, read_datetime"


def refusal(data_dir: Path, kind: str, path: Path) -> str:
    """The message of the one batch ``path`` makes, which must be a refusal, as stored."""
    [result] = ingest_files(data_dir, kind, [path])
    assert result.status == "refused"
    [(message,)] = working_rows(data_dir, "select message from ingest_batches")
    assert message == result.message
    return result.message


def test_a_file_without_a_header_row_is_refused_without_quoting_its_first_line(
    data_dir: Path, tmp_path: Path
) -> None:
    rows = write(
        tmp_path / "noheader.csv",
        "h1,MRN73001,A,2026-10-01,CR,ptx,M,1,0.5\nh2,MRN73002,A,2026-10-01,CR,ptx,M,1,0.6",
    )
    assert refusal(data_dir, "predictions", rows) == (
        "noheader.csv: its first line names none of the required columns, so the file seems to "
        "have no header row (the line is not shown: it may be a data row, with an id); expected "
        f"a first line naming the columns, the required ones: {PRED_REQUIRED}"
    )
    reads = write(
        tmp_path / "reads.csv", "s1,ptx,DR75001,1,2026-10-02\ns2,ptx,DR75002,0,2026-10-02"
    )
    reads_data = data_dir.parent / "reads-data"
    reads_data.mkdir()
    assert refusal(reads_data, "reads", reads).endswith(f"the required ones: {READ_REQUIRED}")
    assert files_holding(data_dir, b"MRN73001", b"MRN73002", b"h1,") == []
    assert files_holding(reads_data, b"DR75001", b"DR75002") == []


def test_column_names_that_read_as_values_are_not_listed(data_dir: Path, tmp_path: Path) -> None:
    # a header whose cells were partly overwritten by a data row: names and values side by side
    text = "study_uid,patient_id,site,2026-10-01,CR,finding,model_name,MRN73001,Y^T,0.5\n1,2"
    assert refusal(data_dir, "predictions", write(tmp_path / "mixed.csv", text)) == (
        "mixed.csv: missing required column(s): study_datetime, modality, model_version, score; "
        "columns found: study_uid, patient_id, site, cr, finding, model_name and 4 whose names "
        "read as values (not shown: the first line may be a data row)"
    )
    assert files_holding(data_dir, b"MRN73001", b"Y^T") == []
