"""Foreseeable mistakes with the data dir get one clear line and exit 2, never a traceback, and
never cost the published data (a QA tester's findings)."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import pytest

from radqa import store
from radqa.cli import main


def _snapshot_counts(data_dir: Path) -> int:
    con = duckdb.connect(str(store.snapshot_path(data_dir)), read_only=True)
    try:
        return con.execute("select count(*) from ingest_batches").fetchall()[0][0]
    finally:
        con.close()


def test_publish_without_a_working_database_keeps_the_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`radqa publish` on a data dir whose working database was gone (or a mistyped --data-dir)
    replaced a full snapshot with an empty one."""
    data_dir = tmp_path / "data"
    csv = tmp_path / "p.csv"
    csv.write_text(
        "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,"
        "score\n1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.5\n"
    )
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 0
    store.working_path(data_dir).unlink()
    capsys.readouterr()
    assert main(["--data-dir", str(data_dir), "publish"]) == 2
    assert "no working database in" in capsys.readouterr().err
    assert _snapshot_counts(data_dir) == 1
    typo = tmp_path / "dta"
    assert main(["--data-dir", str(typo), "publish"]) == 2
    assert not typo.exists()


def test_a_file_given_as_the_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for command in (
        ["publish"],
        ["demo", "--studies", "200"],
        ["report", "monthly", "--month", "2026-10"],
    ):
        assert main(["--data-dir", str(afile), *command]) == 2, command
        assert f"the data dir {afile} is a file; expected a folder" in capsys.readouterr().err
    assert main(["--data-dir", "", "publish"]) == 2
    assert "--data-dir is empty" in capsys.readouterr().err


def test_an_unwritable_data_dir_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only mount ended in `OSError: [Errno 30] Read-only file system` and a traceback.
    Root may write anywhere here, so the disk's refusal is simulated where the data dir is made."""

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro"))

    monkeypatch.setattr(Path, "mkdir", read_only)
    csv = tmp_path / "p.csv"
    csv.write_text("x\n")
    assert main(["--data-dir", str(tmp_path / "ro"), "ingest", "predictions", str(csv)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"radqa: error: cannot write to the data dir {tmp_path / 'ro'} (Read-only file system: "
        f"{tmp_path / 'ro'}); check the folder's permissions\n"
    )


def test_a_snapshot_of_a_newer_radqa_says_upgrade(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    con = store.connect_working(data_dir)
    store.publish_snapshot(con, data_dir)
    con.close()
    con = duckdb.connect(str(store.snapshot_path(data_dir)))
    con.execute("insert into schema_version values (?, now())", [store.SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(store.StoreError, match="written by a newer RadQA .*: upgrade RadQA"):
        store.open_snapshot(data_dir)
