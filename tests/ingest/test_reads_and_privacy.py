"""Reads ingest, and the privacy rule: no raw patient or reader id is stored, logged or shown."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

from ingest.load import ingest_files
from ingest.pseudonym import KEY_FILE, load_key, pseudonymise
from radqa.cli import main
from radqa.errors import ConfigError
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, snapshot_rows, write


def test_reads_defaults_roles_and_rules(data_dir: Path, tmp_path: Path) -> None:
    text = f"""
{READ_HEADER},read_role,rating,ai_assisted,arm
1.2.1,pneumothorax,RAD-A,1,2026-10-04T08:00:00,,4,true,
1.2.1,pneumothorax,RAD-B,0,2026-10-05,Second,2,FALSE,
1.2.1,pneumothorax,RAD-C,1,2026-10-06,adjudication,,,
1.2.2,pneumothorax,RAD-A,2,2026-10-04,primary,,,
1.2.3,pneumothorax,RAD-A,1,2026-10-04,boss,,maybe,
"""
    [result] = ingest_files(data_dir, "reads", [write(tmp_path / "reads.csv", text)])
    assert (result.inserted, result.quarantined) == (3, 2)
    assert result.reasons == [
        "reads.csv: row 4: column 'label' is '2'; expected 0 or 1",
        "reads.csv: row 5: column 'read_role' is 'boss'; expected one of primary, second, "
        "consensus, adjudication; column 'ai_assisted' is 'maybe'; expected true or false",
    ]
    rows = snapshot_rows(
        data_dir,
        "select read_role, arm, label, rating, ai_assisted from reads order by read_datetime",
    )
    assert rows == [
        ("primary", "", 1, 4.0, True),
        ("second", "", 0, 2.0, False),
        ("adjudication", "", 1, None, None),
    ]


def test_pseudonyms_are_hmac_sha256_of_the_key_and_stable(data_dir: Path, tmp_path: Path) -> None:
    preds = write(
        tmp_path / "p.csv",
        f"{PRED_HEADER}\n1.2.1,PATIENT-778899,Osaka,2026-10-01,CR,pneumothorax,M,1,0.5",
    )
    reads = write(
        tmp_path / "r.csv", f"{READ_HEADER}\n1.2.1,pneumothorax,DR-SATO-12345,1,2026-10-02"
    )
    ingest_files(data_dir, "predictions", [preds])
    ingest_files(data_dir, "reads", [reads])
    key = load_key(data_dir)
    expected = hmac.new(key, b"PATIENT-778899", hashlib.sha256).hexdigest()[:24]
    assert pseudonymise(key, "PATIENT-778899") == expected
    assert snapshot_rows(data_dir, "select patient_pid from studies") == [(expected,)]
    assert snapshot_rows(data_dir, "select reader_pid from reads") == [
        (pseudonymise(key, "DR-SATO-12345"),)
    ]
    mode = stat.S_IMODE(os.stat(data_dir / KEY_FILE).st_mode)
    assert mode == 0o600


def test_raw_ids_never_reach_the_database_files_or_the_output(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path / "p.csv",
        f"{PRED_HEADER}\n"
        "1.2.1,PATIENT-778899,Osaka,2026-10-01,CR,pneumothorax,M,1,0.5\n"
        "1.2.2,PATIENT-445566,Osaka,2026-10-01,CR,pneumothorax,M,1,oops",
    )
    write(tmp_path / "r.csv", f"{READ_HEADER}\n1.2.1,pneumothorax,DR-SATO-12345,7,2026-10-02")
    main(["--data-dir", str(data_dir), "ingest", "predictions", str(tmp_path / "p.csv")])
    main(["--data-dir", str(data_dir), "ingest", "reads", str(tmp_path / "r.csv")])
    out = capsys.readouterr()
    raw_ids = (b"PATIENT-778899", b"PATIENT-445566", b"DR-SATO-12345")
    for raw in raw_ids:
        assert raw.decode() not in out.out + out.err
    assert files_holding(data_dir, *raw_ids) == []


def test_key_from_environment_changes_the_pseudonyms(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "site-secret-0123456789")
    preds = write(tmp_path / "p.csv", f"{PRED_HEADER}\n1.2.1,P1,Osaka,2026-10-01,CR,f,M,1,0.5")
    ingest_files(data_dir, "predictions", [preds])
    assert not (data_dir / KEY_FILE).exists()
    assert snapshot_rows(data_dir, "select patient_pid from studies") == [
        (pseudonymise(b"site-secret-0123456789", "P1"),)
    ]


def test_a_short_key_is_refused(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "osaka")
    preds = write(tmp_path / "p.csv", f"{PRED_HEADER}\n1.2.1,P1,Osaka,2026-10-01,CR,f,M,1,0.5")
    with pytest.raises(ConfigError, match="RADQA_PSEUDO_KEY is 5 bytes long; expected at least 16"):
        ingest_files(data_dir, "predictions", [preds])
    assert not (data_dir / "radqa-work.duckdb").exists()  # refused before anything was written
    monkeypatch.delenv("RADQA_PSEUDO_KEY")
    (data_dir / KEY_FILE).write_text("short\n")
    (data_dir / KEY_FILE).chmod(0o600)
    with pytest.raises(ConfigError, match=f"{KEY_FILE} is 5 bytes long"):
        ingest_files(data_dir, "predictions", [preds])
