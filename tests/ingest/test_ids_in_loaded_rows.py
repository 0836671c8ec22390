"""A patient or reader id in another column of a row that would load, or as an extra column's
name, is never stored or shown: the row goes to quarantine (the id hidden there), the column is
dropped unnamed (ingest/load.py ``_find_held``, ingest/redact.py ``find_held_ids``)."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.load import ingest_files
from ingest.redact import HIDDEN
from radqa.cli import main
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write

HOLDS = "holds a patient or reader id (not shown)"


def _quarantine(data_dir: Path) -> dict[int, tuple[str, str, dict[str, object]]]:
    return {
        rn: (column, reason, json.loads(raw))
        for rn, column, reason, raw in snapshot_rows(
            data_dir,
            "select row_number, column_name, reason, raw from quarantine order by row_number",
        )
    }


def _all_bytes(*ids: str) -> list[bytes]:
    """Each id as written, in upper and in lower case."""
    return sorted({v.encode() for i in ids for v in (i, i.upper(), i.lower())})


def test_an_own_id_where_the_site_goes_quarantines_that_row_only(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    """Row 8's site is the patient id of row 3 (MRN-ZZ9937). Before, the row loaded: the id was
    a site in studies, on the dashboard, in the monthly report. Now row 8 is quarantined with a
    reason that does not quote it, its values in quarantine hide it, and the other 9 rows load
    with their sites. Row 9 holds its own id in lower case inside its model version, row 10 in
    the station: each is quarantined too."""
    rows = [
        f"1.2.{i},MRN-ZZ99{30 + i},{'Osaka' if i % 2 else 'Kobe'},2026-10-0{1 + i % 9},CT,"
        f"nodule,M,1,0.{i}"
        for i in range(1, 13)
    ]
    rows[7] = "1.2.8,MRN-ZZ9938,MRN-ZZ9933,2026-10-08,CT,nodule,M,1,0.8"  # row 3's patient
    rows[8] = "1.2.9,MRN-ZZ9939,Kobe,2026-10-09,CT,nodule,M,v2_mrn-zz9939,0.9"  # its own, lower
    path = write(tmp_path / "p.csv", f"{PRED_HEADER},station\n" + "\n".join(
        r + (",ST MRN-ZZ9941_b" if r.startswith("1.2.10,") else ",CT-1") for r in rows
    ))  # fmt: skip
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(path)]) == 1
    out = capsys.readouterr()
    quarantined = _quarantine(data_dir)
    assert sorted(quarantined) == [8, 9, 10]
    column, reason, raw = quarantined[8]
    assert column == "site"
    assert reason == f"p.csv: row 8: column 'site' {HOLDS}; expected a site name"
    assert raw["site"] == HIDDEN and raw["study_uid"] == "1.2.8" and raw["finding"] == "nodule"
    assert quarantined[9][:2] == (
        "model_version",
        f"p.csv: row 9: column 'model_version' {HOLDS}; expected the AI model's version",
    )
    assert quarantined[9][2]["model_version"] == HIDDEN
    assert quarantined[10][:2] == (
        "station",
        f"p.csv: row 10: column 'station' {HOLDS}; expected the scanner's station name",
    )
    # the good rows loaded, with their own sites
    assert snapshot_rows(data_dir, "select study_uid, site from studies order by study_uid") == [
        (uid, "Osaka" if int(uid[4:]) % 2 else "Kobe")
        for uid in sorted(f"1.2.{i}" for i in set(range(1, 13)) - {8, 9, 10})
    ]
    assert snapshot_rows(data_dir, "select count(*) from predictions") == [(9,)]
    assert snapshot_rows(data_dir, "select message from ingest_batches") == [
        ("p.csv: 9 accepted (9 new, 0 replaced, 0 unchanged), 3 quarantined",)
    ]
    assert f"row 8: column 'site' {HOLDS}" in out.out + out.err
    assert "zz99" not in (out.out + out.err).lower()
    assert files_holding(data_dir, *_all_bytes("MRN-ZZ9933", "MRN-ZZ9939", "MRN-ZZ9941")) == []


def test_a_stored_id_in_any_case_in_a_finding_or_an_extra_column_of_a_later_file(
    data_dir: Path, tmp_path: Path
) -> None:
    """The store knows patient TKY884412 and reader DR-TANAKA-77. A later file names the
    patient, in lower case, as a scanner model, and the reader inside an extra column's value;
    a JSON Lines file holds the patient in a nested extra value. Those rows are quarantined,
    the others load, and no copy of the ids is stored."""
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
1.2.5,P-100005,Osaka,2026-10-01,CT,n,M,1,0.5,tky884412,fine
1.2.6,P-100006,Osaka,2026-10-01,CT,n,M,1,0.6,Aquilion,read by DR-TANAKA-77 (2nd)
1.2.7,P-100007,Osaka,2026-10-01,CT,n,M,1,0.7,Aquilion,fine
""",
    )
    [result] = ingest_files(data_dir, "predictions", [later])
    assert (result.accepted, result.quarantined) == (1, 2)
    assert result.reasons == [
        f"b.csv: row 1: column 'scanner_model' {HOLDS}; expected the scanner's model",
        f"b.csv: row 2: column 'note' {HOLDS}; expected a value that is no patient's or "
        "reader's id (or leave the column out: extra_columns in radqa.toml)",
    ]
    q = _quarantine(data_dir)
    assert q[1][2]["scanner_model"] == HIDDEN and q[2][2]["extra"] == HIDDEN
    row = {
        "study_uid": "1.2.8", "patient_id": "P-100008", "site": "Osaka",
        "study_datetime": "2026-10-01", "modality": "CT", "finding": "n", "model_name": "M",
        "model_version": "1", "score": 0.4,
    }  # fmt: skip
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text(
        json.dumps({**row, "meta": {"refs": ["x", "TKY884412"]}})
        + "\n"
        + json.dumps({**row, "study_uid": "1.2.9", "meta": {"refs": ["x"]}})
        + "\n"
    )
    [result] = ingest_files(data_dir, "predictions", [jsonl])
    assert (result.accepted, result.quarantined) == (1, 1)
    assert result.reasons[0].startswith(f"c.jsonl: row 1: column 'meta' {HOLDS}")
    assert snapshot_rows(data_dir, "select study_uid from predictions order by 1") == [
        ("1.2.1",), ("1.2.7",), ("1.2.9",)
    ]  # fmt: skip
    assert files_holding(data_dir, *_all_bytes("TKY884412", "DR-TANAKA-77")) == []


def test_a_reader_id_in_the_arm_or_the_rating_of_a_read(data_dir: Path, tmp_path: Path) -> None:
    """A reads file: one read's arm is another reader's id, one's rating is its own numeric
    reader id. Short reader ids (1, 2) and ratings 1-5 are not taken for ids."""
    text = f"""
{READ_HEADER},arm,rating
1.2.1,n,DR-SATO-12,1,2026-10-02,A,4
1.2.2,n,DR-KIM-34,0,2026-10-02,DR-SATO-12,3
1.2.3,n,40417,1,2026-10-02,B,40417
1.2.4,n,2,1,2026-10-02,B,2
1.2.5,n,1,0,2026-10-02,A,1
"""
    [result] = ingest_files(data_dir, "reads", [write(tmp_path / "r.csv", text)])
    assert (result.accepted, result.quarantined) == (3, 2)
    assert result.reasons == [
        f"r.csv: row 2: column 'arm' {HOLDS}; expected the study arm",
        f"r.csv: row 3: column 'rating' {HOLDS}; expected a rating (a number)",
    ]
    q = _quarantine(data_dir)
    assert q[2][2]["arm"] == HIDDEN and q[3][2]["rating"] == HIDDEN
    assert snapshot_rows(data_dir, "select study_uid, arm, rating from reads order by 1") == [
        ("1.2.1", "A", 4.0), ("1.2.4", "B", 2.0), ("1.2.5", "A", 1.0)
    ]  # fmt: skip
    assert files_holding(data_dir, *_all_bytes("DR-SATO-12", "DR-KIM-34"), b"40417") == []


def test_an_extra_column_named_by_an_id_is_dropped_and_never_named(
    data_dir: Path, tmp_path: Path, capsys
) -> None:
    """Extra columns named MRN-ZZ8101 (a patient of the file, whose name also says MRN), and
    hn998877 and P0012345 (patients the store knows, in another case), are not stored: not in
    any row's extra, not in a quarantined row's values, not named in the message or output.
    X123456, which looks like an id but is none, is kept as today, and not named either."""
    known = write(
        tmp_path / "k.csv",
        f"{PRED_HEADER}\n1.2.1,HN998877,Osaka,2026-10-01,CT,n,M,1,0.4\n"
        "1.2.2,p0012345,Osaka,2026-10-01,CT,n,M,1,0.4",
    )
    ingest_files(data_dir, "predictions", [known])
    path = write(
        tmp_path / "h.csv",
        f"""
{PRED_HEADER},MRN-ZZ8101,protocol,hn998877,P0012345,X123456
1.2.5,MRN-ZZ8101,Osaka,2026-10-01,CT,n,M,1,0.5,a,chest,b,c,d
1.2.6,MRN-ZZ8102,Osaka,2026-10-01,CT,n,M,1,abc,a,chest,b,c,d
""",
    )
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(path)]) == 1
    out = capsys.readouterr()
    [(message,)] = snapshot_rows(
        data_dir, "select message from ingest_batches where file_name = 'h.csv'"
    )
    assert message == (
        "h.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 1 quarantined; not stored: "
        "3 columns whose names are patient or reader ids (not shown)"
    )
    assert message in out.out
    [(extra,)] = snapshot_rows(data_dir, "select extra from predictions where study_uid = '1.2.5'")
    assert json.loads(extra) == {"protocol": "chest", "x123456": "d"}
    [(_, _, raw)] = _quarantine(data_dir).values()
    assert sorted(raw) == sorted([
        "study_uid", "patient_pid", "site", "study_datetime", "modality", "finding",
        "model_name", "model_version", "score", "protocol", "x123456",
    ])  # fmt: skip
    assert "8101" not in out.out + out.err and "998877" not in out.out + out.err
    assert files_holding(data_dir, *_all_bytes("MRN-ZZ8101", "HN998877", "P0012345")) == []


def test_a_column_name_that_reads_as_a_value_is_not_named_in_the_message(
    data_dir: Path, tmp_path: Path
) -> None:
    """With an extra_columns list, the columns it leaves out are named, except one whose name
    reads as a value (README: the first line may be a data row); so are those whose name says
    they identify a person."""
    (data_dir / "radqa.toml").write_text('extra_columns = ["protocol"]\n')
    path = write(
        tmp_path / "v.csv",
        f"{PRED_HEADER},protocol,contrast,X123456,mrn73001,mrn\n"
        "1.2.5,P-1,Osaka,2026-10-01,CT,n,M,1,0.5,chest,yes,d,e,f",
    )
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.message == (
        "v.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 0 quarantined; not stored: "
        "column(s) 'mrn' and 1 column whose name reads as a value (not shown) (their names say "
        "they identify a person; of the ids, only patient_id and reader_id are kept, as "
        "pseudonyms); not stored: column(s) 'contrast' and 1 column whose name reads as a value "
        "(not shown) (not in extra_columns of radqa.toml)"
    )


def test_a_file_of_many_extra_columns_is_searched_too(data_dir: Path, tmp_path: Path) -> None:
    """40 extra columns (their values searched as (column, value) pairs rather than by grouping
    sets): a patient id of the file in the value of e35, and another as the name of a column."""
    names = [f"e{k}" for k in range(40)]
    header = ",".join([PRED_HEADER, *names, "MRN-ZZ7702"])
    good = ",".join(f"v{k}" for k in range(40))
    bad = ",".join("MRN-ZZ7701" if k == 35 else f"v{k}" for k in range(40))
    path = write(
        tmp_path / "m.csv",
        f"""
{header}
1.2.1,MRN-ZZ7701,Osaka,2026-10-01,CT,n,M,1,0.1,{good},x
1.2.2,MRN-ZZ7702,Osaka,2026-10-01,CT,n,M,1,0.2,{bad},x
1.2.3,MRN-ZZ7703,Osaka,2026-10-01,CT,n,M,1,0.3,{good},x
""",
    )
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.accepted, result.quarantined) == (2, 1)
    assert result.reasons == [
        f"m.csv: row 2: column 'e35' {HOLDS}; expected a value that is no patient's or "
        "reader's id (or leave the column out: extra_columns in radqa.toml)"
    ]
    assert result.message.endswith(
        "; not stored: 1 column whose name is a patient or reader id (not shown)"
    )
    [(extra,), _] = snapshot_rows(data_dir, "select extra from predictions order by study_uid")
    assert json.loads(extra) == {f"e{k}": f"v{k}" for k in range(40)}
    assert files_holding(data_dir, *_all_bytes("MRN-ZZ7701", "MRN-ZZ7702")) == []
