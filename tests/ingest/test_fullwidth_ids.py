"""A patient or reader id typed in full-width characters, as a Japanese IME or Excel enters it
(ＰＡＴＸＹＺ１２６), is the same id as PATXYZ126: one pseudonym, in a file (SQL) as in a DICOM
header (Python), and the id search that keeps ids out of other columns finds either form
(ingest/pseudonym.py fold_id, fold_id_sql; ingest/redact.py). Before, the full-width id was a
second patient that never joined the DICOM studies, and a comment 'prior PATXYZ126' in a file of
patient ＰＡＴＸＹＺ１２６ was stored raw in predictions.extra (a tester's finding)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import duckdb

from ingest.load import ingest_files
from ingest.pseudonym import hmac_pads, load_key, pseudonymise
from ingest.redact import HIDDEN
from ingest.validate import pseudonym_sql
from radqa.cli import main
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write

KEY = b"radqa-test-key-0123456789abcdef"
HOLDS = "holds a patient or reader id (not shown)"
EXTRA_EXPECTED = (
    "expected a value that is no patient's or reader's id (or leave the column out: "
    "extra_columns in radqa.toml)"
)


def _forms(*ids: str) -> list[bytes]:
    """Each id as written, in upper and lower case, as UTF-8."""
    return sorted({v.encode() for i in ids for v in (i, i.upper(), i.lower())})


def test_half_width_ids_keep_their_pseudonyms() -> None:
    """Stores built before keep their pseudonyms: an id without a full-width character hashes
    as before (the values are the previous code's, under a fixed key)."""
    assert pseudonymise(KEY, "PATXYZ126") == "37a4a6d963cceeb78fbdd465"
    assert pseudonymise(KEY, "DR-SATO-12") == "0d210a4750d8e76b53e9356c"
    assert pseudonymise(KEY, "MRN 0012") == "fc85ab55d8ce5c5f4070486f"
    assert (
        pseudonymise(KEY, "PATXYZ126")
        == (hmac.new(KEY, b"PATXYZ126", hashlib.sha256).hexdigest()[:24])
    )
    # the full-width form now has the half-width form's pseudonym (it had e1ad7a67...)
    assert pseudonymise(KEY, "ＰＡＴＸＹＺ１２６") == "37a4a6d963cceeb78fbdd465"


def test_sql_and_python_give_one_pseudonym_for_full_half_and_mixed_width_ids() -> None:
    """pseudonym_sql (a file's ids) and pseudonymise (DICOM's) agree on each form of an id, and
    fold the same way every character of the Basic Multilingual Plane."""
    from ingest.pseudonym import fold_id, fold_id_sql

    ids = {
        "PATXYZ126": "PATXYZ126",
        "ＰＡＴＸＹＺ１２６": "PATXYZ126",
        "ＰＡＴxyz１26": "PATxyz126",  # mixed: case is kept, width is not
        "ＭＲＮ－００１２": "MRN-0012",
        "ＰＡＴ\u3000１２６": "PAT 126",  # the ideographic space is a space
        "患者０００１": "患者0001",
        "ﾊﾟﾀ0001": "ﾊﾟﾀ0001",  # half-width katakana is no full-width form: unchanged
        "（ＤＲ）＿ｓａｔｏ～１": "(DR)_sato~1",
    }
    con = duckdb.connect()
    for written, folded in ids.items():
        [(sql,)] = con.execute(
            f"select {pseudonym_sql('$id')}", {"id": written, **hmac_pads(KEY)}
        ).fetchall()
        assert sql == pseudonymise(KEY, written) == pseudonymise(KEY, folded), written
        # an expression (a bad row's typed id), bound once, gives the same
        typed = "nullif(trim($id), '')"
        [(bound,)] = con.execute(
            f"select {pseudonym_sql(typed)}", {"id": f"  {written} ", **hmac_pads(KEY)}
        ).fetchall()
        assert bound == sql, written
        assert fold_id(written) == folded
    every = "".join(chr(c) for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF)
    [(sql_folded,)] = con.execute(f"select {fold_id_sql('$t')}", {"t": every}).fetchall()
    assert sql_folded == fold_id(every)
    assert len(fold_id(every)) == len(every)  # one for one: a character keeps its place
    changed = {c for c, f in zip(every, fold_id(every), strict=True) if c != f}
    assert changed == {chr(c) for c in range(0xFF01, 0xFF5F)} | {"\u3000"}


def test_a_full_width_id_in_a_file_is_the_patient_of_its_half_width_form(
    data_dir: Path, tmp_path: Path
) -> None:
    """Three files name one patient in full-width, half-width and mixed characters: one
    pseudonym, that of the half-width id as a DICOM header's PatientID gets it."""
    a = write(
        tmp_path / "a.csv",
        f"{PRED_HEADER}\n1.2.392.1,ＰＡＴＸＹＺ１２６,Osaka,2026-10-03,CR,ptx,M,1,0.5",
    )
    b = write(
        tmp_path / "b.csv", f"{PRED_HEADER}\n1.2.392.2,PATXYZ126,Osaka,2026-10-04,CR,ptx,M,1,0.5"
    )
    c = write(
        tmp_path / "c.csv",
        f"{PRED_HEADER}\n1.2.392.3,ＰＡＴXYZ１２６,Osaka,2026-10-05,CR,ptx,M,1,0.5",
    )
    results = ingest_files(data_dir, "predictions", [a, b, c])
    assert [(r.accepted, r.quarantined) for r in results] == [(1, 0)] * 3
    dicom_pid = pseudonymise(load_key(data_dir), "PATXYZ126")
    assert snapshot_rows(data_dir, "select study_uid, patient_pid from studies order by 1") == [
        ("1.2.392.1", dicom_pid), ("1.2.392.2", dicom_pid), ("1.2.392.3", dicom_pid)
    ]  # fmt: skip
    assert (
        files_holding(data_dir, *_forms("PATXYZ126", "ＰＡＴＸＹＺ１２６", "ＰＡＴXYZ１２６")) == []
    )


def test_a_value_holding_the_other_width_of_an_own_id_is_quarantined(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    """The tester's file: patient ＰＡＴＸＹＺ１２６ with comment 'prior PATXYZ126' (stored raw in
    predictions.extra before). Row 2 names patient MRN-00123 in full-width where its site goes,
    row 3 the reader-typed ｍｒｎ－００１２３ in lower case in its comment. Each row is
    quarantined with the id hidden; row 4 loads."""
    path = write(
        tmp_path / "a.csv",
        f"""
{PRED_HEADER},comment
1.2.392.1,ＰＡＴＸＹＺ１２６,Osaka,2026-10-03,CR,ptx,M,1,0.5,prior PATXYZ126
1.2.392.2,MRN-00123,ＭＲＮ－００１２３,2026-10-03,CR,ptx,M,1,0.5,x
1.2.392.3,P-777777,Osaka,2026-10-03,CR,ptx,M,1,0.5,see ｍｒｎ－００１２３ (old)
1.2.392.4,P-888888,Osaka,2026-10-03,CR,ptx,M,1,0.5,fine
""",
    )
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(path)]) == 1
    out = capsys.readouterr()
    quarantined = {
        rn: (reason, json.loads(raw))
        for rn, reason, raw in snapshot_rows(
            data_dir, "select row_number, reason, raw from quarantine order by row_number"
        )
    }
    assert {rn: reason for rn, (reason, _) in quarantined.items()} == {
        1: f"a.csv: row 1: column 'comment' {HOLDS}; {EXTRA_EXPECTED}",
        2: f"a.csv: row 2: column 'site' {HOLDS}; expected a site name",
        3: f"a.csv: row 3: column 'comment' {HOLDS}; {EXTRA_EXPECTED}",
    }
    assert quarantined[1][1]["extra"] == HIDDEN and quarantined[3][1]["extra"] == HIDDEN
    assert quarantined[2][1]["site"] == HIDDEN
    assert quarantined[1][1]["patient_pid"] == pseudonymise(load_key(data_dir), "PATXYZ126")
    assert snapshot_rows(data_dir, "select study_uid, extra from predictions") == [
        ("1.2.392.4", '{"comment":"fine"}')
    ]
    shown = out.out + out.err
    assert "XYZ" not in shown and "ＸＹＺ" not in shown and "００１２３" not in shown
    assert (
        files_holding(
            data_dir, *_forms("PATXYZ126", "ＰＡＴＸＹＺ１２６", "MRN-00123", "ＭＲＮ－００１２３")
        )
        == []
    )


def test_a_stored_id_in_full_width_in_a_later_file_is_found(data_dir: Path, tmp_path: Path) -> None:
    """The store knows patient TKY884412 and reader DR-TANAKA-77 (half-width). A later file
    names the patient in full-width lower case as a scanner model and the reader in full-width
    in a bad row's extra column: the first row is quarantined, the second's value hidden."""
    first = write(
        tmp_path / "a.csv", f"{PRED_HEADER}\n1.2.1,TKY884412,Osaka,2026-10-01,CT,n,M,1,0.4"
    )
    reads = write(tmp_path / "r.csv", f"{READ_HEADER}\n1.2.1,n,DR-TANAKA-77,1,2026-10-02")
    ingest_files(data_dir, "predictions", [first])
    ingest_files(data_dir, "reads", [reads])
    later = write(
        tmp_path / "b.csv",
        f"""
{PRED_HEADER},scanner_model,note
1.2.5,P-100005,Osaka,2026-10-01,CT,n,M,1,0.5,ｔｋｙ８８４４１２,fine
1.2.6,P-100006,Osaka,2026-10-01,CT,n,M,1,abc,Aquilion,read by ＤＲ－ＴＡＮＡＫＡ－７７
1.2.7,P-100007,Osaka,2026-10-01,CT,n,M,1,0.7,Aquilion,fine
""",
    )
    [result] = ingest_files(data_dir, "predictions", [later])
    assert (result.accepted, result.quarantined) == (1, 2)
    assert result.reasons == [
        f"b.csv: row 1: column 'scanner_model' {HOLDS}; expected the scanner's model",
        "b.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1",
    ]
    raws = [
        json.loads(r)
        for (r,) in snapshot_rows(data_dir, "select raw from quarantine order by row_number")
    ]
    assert raws[0]["scanner_model"] == HIDDEN
    assert raws[1]["note"] == HIDDEN and raws[1]["scanner_model"] == "Aquilion"
    assert (
        files_holding(
            data_dir,
            *_forms("TKY884412", "ＴＫＹ８８４４１２", "DR-TANAKA-77", "ＤＲ－ＴＡＮＡＫＡ－７７"),
        )
        == []
    )


def test_a_file_named_after_its_patient_in_full_width_is_stored_without_the_id(
    data_dir: Path, tmp_path: Path
) -> None:
    """An export named after its one patient in full-width (preds_ＭＲＮ－００４４５５.csv), whose
    rows give the id half-width: the batch history shows preds_<id>.csv."""
    path = write(
        tmp_path / "preds_ＭＲＮ－００４４５５.csv",
        f"{PRED_HEADER}\n1.2.1,MRN-004455,Osaka,2026-10-01,CT,nodule,M,1,0.4",
    )
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.accepted == 1
    assert snapshot_rows(data_dir, "select file_name from ingest_batches") == [("preds_<id>.csv",)]
    assert (
        files_holding(data_dir, *_forms("MRN-004455", "ＭＲＮ－００４４５５", "００４４５５")) == []
    )
