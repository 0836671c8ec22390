"""A reader-study sheet in wide form names a column after each radiologist ('Dr Tanaka Hanako',
'Suzuki Ichiro MD'): the first was kept in reads.extra as a key, the second dropped but its name
printed in the summary and stored in the batch message (a tester). Both are dropped now, and no
message quotes them; DR (digital radiography) and md_ columns are data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.contract import names_a_person, titled_name
from ingest.load import ingest_files
from tests.ingest.conftest import READ_HEADER, files_holding, snapshot_rows, write


@pytest.mark.parametrize(
    ("column", "titled"),
    [
        ("Dr Tanaka Hanako", True),
        ("Dr. Kim", True),
        ("Dr_Sato", True),
        ("Prof Lee Minho", True),
        ("Suzuki Ichiro MD", True),
        ("Park PhD", True),
        ("田中先生", True),
        ("김선생님", True),
        ("DR_dose", False),
        ("dr_exposure_index", False),
        ("md_score", False),
        ("Drug", False),
        ("rating", False),
    ],
)
def test_a_titled_name_is_a_person(column: str, titled: bool) -> None:
    assert titled_name(column) is titled
    if titled:
        assert names_a_person(column)


def test_columns_named_after_readers_are_dropped_unnamed(data_dir: Path, tmp_path: Path) -> None:
    text = f"""
{READ_HEADER},Dr Tanaka Hanako,Suzuki Ichiro MD,DR_dose,patient_name
1.2.4,ptx,R001,0,2026-10-05,3,4,1.2,x
"""
    [result] = ingest_files(data_dir, "reads", [write(tmp_path / "wide.csv", text)])
    assert (result.status, result.inserted) == ("committed", 1)
    assert result.message.endswith(
        "; not stored: column(s) 'patient_name' and 2 columns named after a person (not shown) "
        "(their names say they identify a person; of the ids, only patient_id and reader_id are "
        "kept, as pseudonyms)"
    )
    [[extra]] = snapshot_rows(data_dir, "select extra from reads")
    assert json.loads(extra) == {"dr_dose": "1.2"}
    assert files_holding(data_dir, b"tanaka", b"Tanaka", b"suzuki", b"Suzuki") == []
