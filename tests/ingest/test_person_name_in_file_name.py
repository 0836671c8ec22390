"""A file named after its patient as some PACS exports name one ("12345 YAMADA^TARO.csv"): the
id was hidden, the name beside it shown and stored ("<id> YAMADA^TARO.csv", a tester), where DICOM
ingest hides such a folder whole. A person's name in DICOM's form is now "<name>"."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.load import ingest_files
from ingest.redact import NAME_MARK, PERSON_NAME
from tests.ingest.conftest import PRED_HEADER, files_holding, snapshot_rows, write


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("<id> YAMADA^TARO.csv", "<id> <name>.csv"),
        ("pf/<id> SATO^HANAKO/preds.csv", "pf/<id> <name>/preds.csv"),
        ("YAMADA^TARO=山田^太郎.csv", "<name>.csv"),
        ("LI^.csv", "<name>.csv"),
        ("preds_20261014.csv", "preds_20261014.csv"),
        ("score^2.csv", "score^2.csv"),
    ],
)
def test_a_dicom_person_name_is_hidden(name: str, shown: str) -> None:
    assert PERSON_NAME.sub(NAME_MARK, name) == shown


def test_a_file_named_after_its_patient_is_stored_without_the_name(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "12345 YAMADA^TARO"
    folder.mkdir()
    text = f"""
{PRED_HEADER}
1.2.1,12345,Osaka,2026-10-01,CR,ptx,M,1,0.3
"""
    [result] = ingest_files(
        data_dir, "predictions", [write(folder / "12345 SATO^HANAKO.csv", text)]
    )
    assert result.status == "committed"
    assert result.file == "<id> <name>.csv"
    assert snapshot_rows(data_dir, "select file_name from ingest_batches") == [("<id> <name>.csv",)]
    assert files_holding(data_dir, b"YAMADA", b"SATO", b"HANAKO") == []
