"""DICOM files sent again after a later file changed their studies are read again, and their
values are back (a tester: after a predictions file gave a DICOM study another modality, scanner
model and site, loading the same DICOM files again said 'already loaded ... nothing changed'
and the study kept the file's values, a scanner 'TOSHIBA Wrong' that exists nowhere; a re-sent
predictions file is read again in that case, and its values replace the later ones)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.dicom import ingest_dicom
from ingest.load import ingest_files
from ingest.pseudonym import KEY_ENV
from radqa.settings import Settings
from tests.test_dicom_media import _ct

HEADER = (
    "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score,"
    "scanner_model"
)
READ_AGAIN = (
    "; same content as batch 1, read again as later files changed the values of its studies since"
)


@pytest.fixture(autouse=True)
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "test-key-dicom-0123456789")


def _studies(data: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(data / "radqa.duckdb"), read_only=True) as con:
        return con.execute(
            "select study_uid, site, modality, scanner_manufacturer, scanner_model, source, "
            "batch_id from studies order by study_uid"
        ).fetchall()


def _preds(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "pd.csv"
    path.write_text(f"{HEADER}\n{rows}\n")
    return path


def test_dicom_files_sent_again_restore_what_a_later_predictions_file_changed(
    tmp_path: Path,
) -> None:
    src, data = tmp_path / "dcm", tmp_path / "data"
    _ct(src / "a.dcm", "7.1")
    _ct(src / "b.dcm", "7.2")
    settings = Settings(data_dir=data, site_map={"OSAKA UNIV HOSP": "Osaka"})
    ingest_dicom(data, [src], settings=settings)
    ingest_files(
        data,
        "predictions",
        [_preds(tmp_path, "7.1,PID-313131,Busan,2026-10-01,CR,ptx,M,1,0.5,Wrong")],
    )
    assert _studies(data)[0] == ("7.1", "Busan", "CR", "TOSHIBA", "Wrong", "predictions", 2)

    again = ingest_dicom(data, [src], settings=settings)

    assert (again.status, again.batch_id, again.updated, again.unchanged, again.ok) == (
        "committed",
        3,
        1,
        1,
        True,
    )
    assert again.message == (
        f"{src}: batch 3: 2 studies from 2 of 2 file(s): 0 new, 1 updated (1 with a new site), "
        f"1 unchanged; 0 file(s) skipped{READ_AGAIN}"
    )
    assert _studies(data) == [
        ("7.1", "Osaka", "CT", "TOSHIBA", "Aquilion ONE", "dicom", 3),
        ("7.2", "Osaka", "CT", "TOSHIBA", "Aquilion ONE", "dicom", 1),
    ]
    # nothing changed since: known as loaded again, without a transaction
    third = ingest_dicom(data, [src], settings=settings)
    assert (third.status, third.batch_id) == ("unchanged", 3)
    assert third.message == (
        f"{src}: 2 file(s) already loaded as batch 3 (same content); nothing changed"
    )


def test_without_a_site_map_the_predictions_files_site_stays(tmp_path: Path) -> None:
    """The headers' modality and scanner are back, but an InstitutionName that no [site_map]
    renames does not replace a site stored (README: one hospital would show as two sites), on
    this load as on any other."""
    src, data = tmp_path / "dcm", tmp_path / "data"
    _ct(src / "a.dcm", "7.1")
    ingest_dicom(data, [src])
    ingest_files(
        data,
        "predictions",
        [_preds(tmp_path, "7.1,PID-313131,Busan,2026-10-01,CR,ptx,M,1,0.5,Wrong")],
    )
    again = ingest_dicom(data, [src])
    assert (again.status, again.updated) == ("committed", 1)
    assert again.message.endswith(READ_AGAIN)
    assert _studies(data) == [("7.1", "Busan", "CT", "TOSHIBA", "Aquilion ONE", "dicom", 3)]


def test_a_later_dicom_batch_of_the_same_study_is_reverted_too(tmp_path: Path) -> None:
    """Another call's images of the study from another scanner (most of its images then)
    gave it that scanner; the first call's files sent again give it theirs back."""
    src, data = tmp_path / "dcm", tmp_path / "data"
    _ct(src / "a.dcm", "7.1")
    ingest_dicom(data, [src])
    other = tmp_path / "other"
    _ct(other / "x.dcm", "7.1", Manufacturer="SIEMENS", ManufacturerModelName="Force")
    ingest_dicom(data, [other])
    assert _studies(data)[0][3:5] == ("SIEMENS", "Force")
    again = ingest_dicom(data, [src])
    assert (again.status, again.updated) == ("committed", 1)
    assert again.message.endswith(READ_AGAIN)
    assert _studies(data)[0][3:5] == ("TOSHIBA", "Aquilion ONE")


def test_a_later_file_of_other_studies_keeps_the_fast_path(tmp_path: Path) -> None:
    src, data = tmp_path / "dcm", tmp_path / "data"
    _ct(src / "a.dcm", "7.1")
    ingest_dicom(data, [src])
    ingest_files(
        data, "predictions", [_preds(tmp_path, "9.9,PID-999,Busan,2026-10-01,CR,ptx,M,1,0.5,X")]
    )
    _ct(tmp_path / "other" / "x.dcm", "7.9", PatientID="PID-77")
    ingest_dicom(data, [tmp_path / "other"])
    again = ingest_dicom(data, [src])
    assert (again.status, again.batch_id) == ("unchanged", 1)
    assert _studies(data)[0] == ("7.1", "OSAKA UNIV HOSP", "CT", "TOSHIBA", "Aquilion ONE",
                                 "dicom", 1)  # fmt: skip
