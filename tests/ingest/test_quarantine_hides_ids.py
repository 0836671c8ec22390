"""A patient or reader id in another column of a quarantined row is hidden (ingest/redact.py)."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.load import ingest_files
from ingest.redact import HIDDEN
from radqa.cli import main
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write

NOT_SHOWN = "holds a patient or reader id (not shown)"


def _quarantine(data_dir: Path) -> dict[int, tuple[str, dict[str, str]]]:
    return {
        rn: (reason, json.loads(raw))
        for rn, reason, raw in snapshot_rows(
            data_dir, "select row_number, reason, raw from quarantine order by row_number"
        )
    }


def test_an_id_of_the_same_file_in_another_column_is_hidden(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    """Row 2 has the MRN of row 1 where its site goes and in an extra column; row 3 has it in
    its score. The values that are not ids stay, so the rows can still be mended."""
    text = f"""
{PRED_HEADER},note
1.2.1,MRN-000111,Osaka,2026-10-01,CT,nodule,M,1,0.4,fine
1.2.2,MRN-000222,MRN-000111,2026-10-01,CT,nodule,M,1,abc,MRN-000222
1.2.3,MRN-000333,Osaka,2026-10-01,CT,nodule,M,1, MRN-000111 ,x
"""
    path = write(tmp_path / "p.csv", text)
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(path)]) == 1
    out = capsys.readouterr()
    rows = _quarantine(data_dir)
    reason2, raw2 = rows[2]
    assert reason2 == "p.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1"
    assert raw2["site"] == HIDDEN and raw2["note"] == HIDDEN
    assert raw2["score"] == "abc" and raw2["study_uid"] == "1.2.2" and raw2["modality"] == "CT"
    reason3, raw3 = rows[3]
    assert reason3 == f"p.csv: row 3: column 'score' {NOT_SHOWN}; expected a number between 0 and 1"
    assert raw3["score"] == HIDDEN and raw3["site"] == "Osaka" and raw3["note"] == "x"
    assert list(raw3) == list(raw2)  # the columns keep their order
    assert "MRN-000" not in out.out + out.err
    assert f"column 'score' {NOT_SHOWN}" in out.out + out.err
    assert files_holding(data_dir, b"MRN-000111", b"MRN-000222", b"MRN-000333") == []
    # the good row loaded as it was
    assert snapshot_rows(data_dir, "select study_uid, site from studies") == [("1.2.1", "Osaka")]


def test_an_id_the_store_knows_is_hidden_in_a_later_file(data_dir: Path, tmp_path: Path) -> None:
    """A later file's bad row holds a patient id loaded before and a reader id loaded before
    (not ids of its own rows): both are hidden, found by their pseudonyms. A value that is no
    stored or own id is shown, even when it looks like one: nothing says it is."""
    first = write(
        tmp_path / "a.csv", f"{PRED_HEADER}\n1.2.1,MRN-000111,Osaka,2026-10-01,CT,n,M,1,0.4"
    )
    reads = write(tmp_path / "r.csv", f"{READ_HEADER}\n1.2.1,n,DR-TANAKA-77,1,2026-10-02")
    ingest_files(data_dir, "predictions", [first])
    ingest_files(data_dir, "reads", [reads])
    later = write(
        tmp_path / "b.csv",
        f"""
{PRED_HEADER},note
1.2.5,MRN-000555,Osaka,2026-10-01,CT,n,M,1,MRN-000111,DR-TANAKA-77
1.2.6,MRN-000666,Osaka,2026-10-01,CT,n,M,1,MRN-999999,y
""",
    )
    [result] = ingest_files(data_dir, "predictions", [later])
    assert result.reasons == [
        f"b.csv: row 1: column 'score' {NOT_SHOWN}; expected a number between 0 and 1",
        "b.csv: row 2: column 'score' is 'MRN-999999'; expected a number between 0 and 1",
    ]
    rows = _quarantine(data_dir)
    assert rows[1][1]["score"] == HIDDEN and rows[1][1]["note"] == HIDDEN
    assert rows[2][1]["note"] == "y"
    assert files_holding(data_dir, b"MRN-000111", b"DR-TANAKA-77", b"MRN-000555") == []


def test_a_reader_id_in_another_column_of_a_bad_read_is_hidden(
    data_dir: Path, tmp_path: Path
) -> None:
    text = f"""
{READ_HEADER},arm,rating
1.2.1,n,DR-SATO-12,1,2026-10-02,A,4
1.2.2,n,DR-KIM-34,maybe,2026-10-02,DR-SATO-12,3
1.2.3,n,DR-LEE-56,1,2026-10-02,B,DR-LEE-56
"""
    [result] = ingest_files(data_dir, "reads", [write(tmp_path / "r.csv", text)])
    assert result.quarantined == 2
    rows = _quarantine(data_dir)
    assert rows[2][0] == "r.csv: row 2: column 'label' is 'maybe'; expected 0 or 1"
    assert rows[2][1]["arm"] == HIDDEN and rows[2][1]["label"] == "maybe"
    assert NOT_SHOWN in rows[3][0] and rows[3][1]["rating"] == HIDDEN
    assert files_holding(data_dir, b"DR-SATO-12", b"DR-KIM-34", b"DR-LEE-56") == []


def test_a_file_named_after_its_patient_is_stored_without_the_id(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    """An export of one patient's studies, named after the patient: the batch history, the
    quarantine and the command's output show ``<id>`` where the id was."""
    path = write(
        tmp_path / "preds-MRN-004455_ct.csv",
        f"""
{PRED_HEADER}
1.2.1,MRN-004455,Osaka,2026-10-01,CT,nodule,M,1,0.4
1.2.2,MRN-004455,Osaka,2026-10-01,CT,nodule,M,1,abc
""",
    )
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(path)]) == 1
    out = capsys.readouterr()
    assert snapshot_rows(data_dir, "select file_name, message from ingest_batches") == [
        ("preds-<id>_ct.csv", "preds-<id>_ct.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), "
         "1 quarantined")
    ]  # fmt: skip
    assert snapshot_rows(data_dir, "select file_name, reason from quarantine") == [
        ("preds-<id>_ct.csv",
         "preds-<id>_ct.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1")
    ]  # fmt: skip
    assert "004455" not in out.out + out.err and "preds-<id>_ct.csv" in out.out
    assert files_holding(data_dir, b"MRN-004455", b"004455") == []


def test_a_file_named_after_a_reader_or_a_known_patient_is_stored_without_the_id(
    data_dir: Path, tmp_path: Path
) -> None:
    """A reader study's per-reader file; a file refused whole (no header) whose name holds, in
    lower case, a patient id the store knows. Ids shorter than 4 characters and names that hold
    no id are left as they are."""
    reads = write(
        tmp_path / "reads_DR-SATO-12.csv", f"{READ_HEADER}\n1.2.1,n,DR-SATO-12,1,2026-10-02"
    )
    [r] = ingest_files(data_dir, "reads", [reads])
    assert r.file == "reads_<id>.csv" and r.message.startswith("reads_<id>.csv: 1 accepted")
    known = write(
        tmp_path / "p.csv", f"{PRED_HEADER}\n1.2.1,TKY884412,Osaka,2026-10-01,CT,n,M,1,0.4"
    )
    ingest_files(data_dir, "predictions", [known])
    refused = write(tmp_path / "resend_tky884412.csv", "1.2.9,TKY884412,Osaka")
    [r] = ingest_files(data_dir, "predictions", [refused])
    assert r.status == "refused" and r.file == "resend_<id>.csv"
    assert r.message.startswith("resend_<id>.csv: its first line names none of the required")
    short = write(tmp_path / "p1.csv", f"{PRED_HEADER}\n1.2.7,P1,Osaka,2026-10-01,CT,n,M,1,0.4")
    [r] = ingest_files(data_dir, "predictions", [short])
    assert r.file == "p1.csv"
    assert [name for (name,) in snapshot_rows(
        data_dir, "select file_name from ingest_batches order by batch_id"
    )] == ["reads_<id>.csv", "p.csv", "resend_<id>.csv", "p1.csv"]  # fmt: skip
    assert files_holding(data_dir, b"DR-SATO-12", b"TKY884412", b"tky884412") == []
