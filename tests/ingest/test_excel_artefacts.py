"""Excel's artefacts in the id columns (a tester's excel.csv, accepted silently before): a study_uid
stored as ``="1.2.3.1"`` or ``'1.2.3.2`` never met its reads or DICOM headers, a patient_id
``="00012345"`` got another pseudonym than ``00012345``, and ``1.23E+07`` (Excel's rounding of a
long id) made one pseudonym of different patients."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write

SCIENTIFIC_REASON = (
    "is a number in scientific notation (not shown), as a spreadsheet shows a long number after "
    "rounding it; expected the id as written"
)


def test_text_forcing_formula_and_apostrophe_are_read_as_the_id(
    data_dir: Path, tmp_path: Path
) -> None:
    excel = write(
        tmp_path / "excel.csv",
        f'''
{PRED_HEADER}
"=""1.2.3.1""","=""00012345""",Osaka,2026-10-01,CR,ptx,CXR,2.10,0.8
'1.2.3.2,'00012346,'Osaka,2026-10-02,CR,ptx,CXR,2.10,0.2
''',
    )
    clean = write(
        tmp_path / "clean.csv",
        f"""
{PRED_HEADER}
9.1,00012345,Osaka,2026-10-03,CR,ptx,CXR,2.10,0.5
9.2,00012346,Osaka,2026-10-03,CR,ptx,CXR,2.10,0.5
""",
    )
    reads = write(
        tmp_path / "reads.csv",
        f'''
{READ_HEADER}
"=""1.2.3.1""",ptx,"=""DR0042""",1,2026-10-05
'1.2.3.2,ptx,'DR0042,0,2026-10-05
9.1,ptx,DR0042,0,2026-10-05
''',
    )
    first, second = ingest_files(data_dir, "predictions", [excel, clean])
    assert (first.inserted, first.quarantined, second.inserted) == (2, 0, 2)
    [third] = ingest_files(data_dir, "reads", [reads])
    assert (third.inserted, third.quarantined) == (3, 0)
    studies = snapshot_rows(data_dir, "select study_uid, site, patient_pid from studies order by 1")
    assert [s[:2] for s in studies] == [
        ("1.2.3.1", "Osaka"), ("1.2.3.2", "'Osaka"), ("9.1", "Osaka"), ("9.2", "Osaka")
    ]  # fmt: skip
    assert studies[0][2] == studies[2][2] and studies[1][2] == studies[3][2]  # same patients
    assert studies[0][2] != studies[1][2]
    readers = snapshot_rows(data_dir, "select study_uid, reader_pid from reads order by 1")
    assert [r[0] for r in readers] == ["1.2.3.1", "1.2.3.2", "9.1"]  # they meet their studies
    assert len({r[1] for r in readers}) == 1  # one reader


def test_an_id_in_scientific_notation_is_quarantined_without_showing_it(
    data_dir: Path, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "excel.csv",
        f'''
{PRED_HEADER}
1.2.3.1,1.23E+07,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.6
1.2.3.2,1.23E+07,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.7
1.2e+15,P0001,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.7
12E345,"=""1,2E+07""",Osaka,2026-10-01,CR,ptx,CXR,2.1,0.7
12E346,P0002,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.7
'1.2.3.8,P0003,Osaka,2026-10-01,CR,ptx,CXR,2.1,abc
''1.2.3.9,P0004,Osaka,2026-10-01,CR,ptx,CXR,2.1,abc
''',
    )
    [result] = ingest_files(data_dir, "predictions", [path])
    assert (result.inserted, result.quarantined) == (1, 6)
    rows = snapshot_rows(
        data_dir, "select row_number, column_name, reason, raw from quarantine order by 1"
    )
    assert [r[:3] for r in rows] == [
        (1, "patient_id", f"excel.csv: row 1: column 'patient_id' {SCIENTIFIC_REASON}"),
        (2, "patient_id", f"excel.csv: row 2: column 'patient_id' {SCIENTIFIC_REASON}"),
        (
            3,
            "study_uid",
            "excel.csv: row 3: column 'study_uid' is '1.2e+15', a number in scientific notation, "
            "as a spreadsheet shows a long number after rounding it; expected the id as written",
        ),
        (4, "patient_id", f"excel.csv: row 4: column 'patient_id' {SCIENTIFIC_REASON}"),
        # an id as typed, once unwrapped, is not unwrapped again for the reason
        (6, "score", "excel.csv: row 6: column 'score' is 'abc'; expected a number between 0 and 1"),
        (7, "score", "excel.csv: row 7: column 'score' is 'abc'; expected a number between 0 and 1"),
    ]  # fmt: skip
    values = [json.loads(r[3]) for r in rows]
    assert values[0]["patient_pid"] == "(a number in scientific notation; not shown)"
    assert values[2]["study_uid"] == "1.2e+15" and len(values[2]["patient_pid"]) == 24
    assert [v["study_uid"] for v in values[4:]] == ["1.2.3.8", "''1.2.3.9"]
    assert snapshot_rows(data_dir, "select study_uid from studies") == [("12E346",)]
    assert snapshot_rows(data_dir, "select count(*) from reads") == [(0,)]
    assert files_holding(data_dir, b"1.23E+07", b"1,2E+07", b"1.23E") == []


def test_a_reader_id_in_scientific_notation_is_quarantined(data_dir: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "reads.csv",
        f"""
{READ_HEADER}
1.1,ptx,4.5E+09,1,2026-10-05
1.2,ptx,DR0042,1,2026-10-05
""",
    )
    [result] = ingest_files(data_dir, "reads", [path], publish=False)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert result.reasons == [f"reads.csv: row 1: column 'reader_id' {SCIENTIFIC_REASON}"]
    assert files_holding(data_dir, b"4.5E+09") == []


def test_a_float_id_of_ten_to_the_sixteen_is_quarantined(data_dir: Path, tmp_path: Path) -> None:
    # DuckDB writes such a float as '1.2e+16': no longer the id's digits
    table = pa.table(
        {
            "study_uid": ["1.1", "1.2"],
            "patient_id": pa.array([12000000000000000.0, 123456.0], pa.float64()),
            "site": ["Osaka"] * 2,
            "study_datetime": ["2026-10-01"] * 2,
            "modality": ["CR"] * 2,
            "finding": ["f"] * 2,
            "model_name": ["M"] * 2,
            "model_version": ["2.1"] * 2,
            "score": [0.1, 0.2],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "p.parquet"], publish=False)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert result.reasons == [f"p.parquet: row 1: column 'patient_id' {SCIENTIFIC_REASON}"]
