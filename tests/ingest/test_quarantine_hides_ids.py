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


def _pq(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


ROW = {
    "study_uid": "1.2.1", "patient_id": "MRN-004455", "site": "Osaka",
    "study_datetime": "2026-10-01", "modality": "XX", "finding": "n", "model_name": "M",
    "model_version": "1", "score": 0.4,
}  # fmt: skip


def test_ids_in_json_lines_and_parquet_extras_nested_or_quoted_are_hidden(
    data_dir: Path, tmp_path: Path
) -> None:
    """A JSON Lines extra holding the id as a string (kept as JSON text, with its quotes), in an
    object or a list, and a Parquet struct: each value holding the id is hidden whole."""
    rows = [
        {**ROW, "ref": "MRN-004455", "nested": {"mrn": "MRN-004455"}, "ids": ["x", "MRN-004455"]}
    ]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ingest_files(data_dir, "predictions", [jsonl])
    [(_, raw)] = _quarantine(data_dir).values()
    assert raw["ref"] == raw["nested"] == raw["ids"] == HIDDEN and raw["modality"] == "XX"
    parquet = _pq(
        tmp_path / "q.parquet", [{**ROW, "study_uid": "1.2.2", "st": {"mrn": "MRN-004455"}}]
    )
    ingest_files(data_dir, "predictions", [parquet])
    assert [raw["st"] for _, raw in _quarantine(data_dir).values() if "st" in raw] == [HIDDEN]
    assert files_holding(data_dir, b"MRN-004455", b"004455") == []


def test_an_id_in_an_extra_of_a_duplicate_row_is_hidden(data_dir: Path, tmp_path: Path) -> None:
    text = f"""
{PRED_HEADER},ref
1.2.3,MRN-007777,Osaka,2026-10-01,CT,n,M,1,0.5,MRN-007777
1.2.3,MRN-007777,Osaka,2026-10-01,CT,n,M,1,0.6,x
"""
    ingest_files(data_dir, "predictions", [write(tmp_path / "d.csv", text)])
    [(reason, raw)] = _quarantine(data_dir).values()
    assert reason.startswith("d.csv: row 1: duplicate of row 2") and raw["extra"] == HIDDEN
    assert files_holding(data_dir, b"MRN-007777") == []


def test_ids_shorter_than_four_characters_are_not_looked_for(
    data_dir: Path, tmp_path: Path
) -> None:
    """Reader ids 1, 2, 3: a label of 2 is quoted as it is, not called an id."""
    text = f"""
{READ_HEADER},rating
1.2.1,n,1,1,2026-10-04,2
1.2.1,n,2,2,2026-10-04,1
"""
    [result] = ingest_files(data_dir, "reads", [write(tmp_path / "r.csv", text)])
    assert result.reasons == ["r.csv: row 2: column 'label' is '2'; expected 0 or 1"]
    assert _quarantine(data_dir)[2][1]["rating"] == "1"


def test_a_file_loaded_again_keeps_its_name_hidden_though_the_store_never_learnt_the_id(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    """Every row of preds-MRN-005555.csv is quarantined, so the store knows no such patient:
    loaded again, it is named as its first load stored it. Glued to other letters, an id the
    store knows is found too; a refused file's own ids and a folder named after a patient are
    hidden in its message."""
    path = write(
        tmp_path / "preds-MRN-005555.csv",
        f"{PRED_HEADER}\n1.2.1,MRN-005555,Osaka,2026-10-01,CT,n,M,1,1.5",
    )
    args = ["--data-dir", str(data_dir), "ingest", "predictions"]
    main([*args, str(path)])
    main([*args, str(path)])
    out = capsys.readouterr()
    assert "unchanged  preds-<id>.csv: already loaded as batch 1" in out.out
    good = write(
        tmp_path / "g.csv", f"{PRED_HEADER}\n1.2.2,MRN0066666,Osaka,2026-10-01,CT,n,M,1,0.5"
    )
    main([*args, str(good)])
    glued = write(tmp_path / "検査MRN0066666preds.csv", "no header here")
    missing = write(
        tmp_path / "x_MRN-008888.csv", "study_uid,patient_id,site\n1.2.3,MRN-008888,Osaka"
    )
    folder = tmp_path / "MRN0066666"
    folder.mkdir()
    main([*args, str(glued), str(missing), str(folder / "nothing.csv")])
    out = capsys.readouterr()
    names = [n for (n,) in snapshot_rows(data_dir, "select file_name from ingest_batches")]
    assert names[-3:] == ["検査<id>preds.csv", "x_<id>.csv", "nothing.csv"]
    [(message,)] = snapshot_rows(
        data_dir, "select message from ingest_batches where file_name = 'nothing.csv'"
    )
    assert message.endswith("<id>/nothing.csv: no such file")
    assert "0066666" not in out.out + out.err and "008888" not in out.out + out.err
    assert files_holding(data_dir, b"MRN-005555", b"MRN0066666", b"MRN-008888") == []


def test_a_file_read_again_after_other_files_or_refused_before_lists_its_bad_rows_once(
    data_dir: Path, tmp_path: Path
) -> None:
    """Read again with another extra_columns after another file was loaded, and loaded twice
    with --strict then without it: Data health lists each bad row once."""
    (data_dir / "radqa.toml").write_text('extra_columns = ["protocol"]\n')
    bad = write(
        tmp_path / "e.csv",
        f"{PRED_HEADER},protocol\n1.2.1,MRN1,Osaka,2026-10-01,CT,n,M,1,0.4,P1\n"
        "1.2.2,MRN2,Osaka,2026-10-01,XX,n,M,1,0.4,P2",
    )
    other = write(tmp_path / "o.csv", f"{PRED_HEADER}\n1.2.9,MRN9,Osaka,2026-10-01,CT,n,M,1,0.4")
    ingest_files(data_dir, "predictions", [bad])
    ingest_files(data_dir, "predictions", [other])
    (data_dir / "radqa.toml").write_text("extra_columns = []\n")
    ingest_files(data_dir, "predictions", [bad])
    assert [json.loads(raw).get("protocol") for (raw,) in snapshot_rows(
        data_dir, "select raw from quarantine where file_name = 'e.csv'"
    )] == [None]  # fmt: skip
    strict = write(
        tmp_path / "s.csv",
        f"{PRED_HEADER}\n1.2.5,MRN5,Osaka,2026-10-01,CT,n,M,1,0.4\n"
        "1.2.6,MRN6,Osaka,2026-10-01,CT,n,M,1,abc",
    )
    for flags in (["--strict"], ["--strict"], []):
        main(["--data-dir", str(data_dir), "ingest", "predictions", *flags, str(strict)])
    assert snapshot_rows(
        data_dir, "select row_number from quarantine where file_name = 's.csv'"
    ) == [(2,)]


def test_an_extra_column_named_like_the_pseudonym_is_not_stored(
    data_dir: Path, tmp_path: Path
) -> None:
    """A predictions file with its own column patient_pid: its name says it identifies a person
    (ingest.contract.names_a_person), so the bad row's values hold that key once, the pseudonym
    RadQA writes, and the batch loads its good row."""
    text = f"""
{PRED_HEADER},patient_pid
1.2.1,MRN-001234,Osaka,2026-10-01,CT,n,M,1,0.4,x
1.2.2,MRN-004321,Osaka,2026-10-01,CT,n,M,1,abc,MRN-004321
"""
    [result] = ingest_files(data_dir, "predictions", [write(tmp_path / "p.csv", text)])
    assert (result.status, result.accepted, result.quarantined) == ("committed", 1, 1)
    [(raw,)] = snapshot_rows(data_dir, "select raw::varchar from quarantine")
    assert raw.count('"patient_pid":') == 1 and HIDDEN not in raw
    assert result.message.endswith(
        "; not stored: column(s) 'patient_pid' (its name says it "
        "identifies a person; of the ids, only patient_id and reader_id are kept, as pseudonyms)"
    )
    assert files_holding(data_dir, b"MRN-004321") == []


def test_ids_joined_to_other_words_or_written_as_floats_are_found(
    data_dir: Path, tmp_path: Path
) -> None:
    """MRN0020001_old, old-MRN0020001, MRN0020001.pdf, MRN-0020002_x; an id written 123456.0
    inside a JSON Lines object. An id glued to letters (xMRN0020001) is not found (README)."""
    text = f"""
{PRED_HEADER},a,b,c,d,e
1.2.1,MRN0020001,Osaka,2026-10-01,XX,n,M,1,0.4,MRN0020001_old,old-MRN0020001,MRN0020001.pdf,MRN-0020002_x,xMRN0020001
1.2.2,MRN-0020002,Osaka,2026-10-01,CT,n,M,1,0.4,,,,,
"""
    ingest_files(data_dir, "predictions", [write(tmp_path / "p.csv", text)])
    [(_, raw)] = _quarantine(data_dir).values()
    assert [raw[k] for k in "abcde"] == [HIDDEN] * 4 + ["xMRN0020001"]
    rows = [{**ROW, "patient_id": 123456, "study_uid": "1.2.3", "nested": {"a": 123456.0}}]
    jsonl = tmp_path / "q.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ingest_files(data_dir, "predictions", [jsonl])
    assert [r["nested"] for _, r in _quarantine(data_dir).values() if "nested" in r] == [HIDDEN]


def test_a_copy_under_another_name_and_a_date_in_a_name_are_shown_rightly(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    """A copy of an all-quarantined file named after its patient: 'already loaded' hides the id
    (known from the quarantined rows); a copy under a name without an id keeps its own name. A
    date in a file name is not cut to hide a patient 261014 the store knows."""
    row = f"{PRED_HEADER}\n1.2.1,MRN0088888,Osaka,2026-10-01,XX,n,M,1,0.4"
    first = write(tmp_path / "preds-MRN0088888.csv", row)
    copy = write(tmp_path / "copy-of-MRN0088888.csv", row)
    plain = write(tmp_path / "preds-final.csv", row)
    args = ["--data-dir", str(data_dir), "ingest", "predictions"]
    main([*args, str(first)])
    capsys.readouterr()
    main([*args, str(copy), str(plain)])
    out = capsys.readouterr().out
    assert "unchanged  copy-of-<id>.csv: already loaded as batch 1" in out
    assert "unchanged  preds-final.csv: already loaded as batch 1" in out
    known = write(tmp_path / "k.csv", f"{PRED_HEADER}\n1.2.5,261014,Osaka,2026-10-01,CT,n,M,1,0.4")
    ingest_files(data_dir, "predictions", [known])
    dated = write(
        tmp_path / "preds_20261014.csv",
        f"{PRED_HEADER}\n1.2.6,P77777,Osaka,2026-10-01,CT,n,M,1,0.4",
    )
    [result] = ingest_files(data_dir, "predictions", [dated])
    assert result.file == "preds_20261014.csv"
    named = write(
        tmp_path / "preds_261014-x.csv",
        f"{PRED_HEADER}\n1.2.7,P77778,Osaka,2026-10-01,CT,n,M,1,0.4",
    )
    [result] = ingest_files(data_dir, "predictions", [named])
    assert result.file == "preds_<id>-x.csv"
