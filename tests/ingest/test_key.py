"""The pseudonymisation key of a data dir: a lost, replaced or empty key must stop ingest before a
row is written, since any other key gives every patient and reader a second pseudonym that never
joins the first (a QA tester's `rm pseudo.key` was followed by a quiet new key)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.load import ingest_files
from ingest.pseudonym import KEY_FILE, pseudonymise
from radqa.cli import main
from radqa.errors import ConfigError
from tests.ingest.conftest import PRED_HEADER, snapshot_rows, write

ROW = "{uid},P1,Osaka,2026-10-01,CR,ptx,M,1,0.5"


def _file(tmp_path: Path, uid: str) -> Path:
    return write(tmp_path / f"{uid}.csv", f"{PRED_HEADER}\n{ROW.format(uid=uid)}")


def _loaded(data_dir: Path, tmp_path: Path) -> bytes:
    [first] = ingest_files(data_dir, "predictions", [_file(tmp_path, "s1")])
    assert first.status == "committed"
    return (data_dir / KEY_FILE).read_bytes()


def _batches(data_dir: Path) -> int:
    return len(snapshot_rows(data_dir, "select * from ingest_batches"))


def test_a_lost_key_file_stops_ingest_and_no_new_key_is_made(
    data_dir: Path, tmp_path: Path
) -> None:
    _loaded(data_dir, tmp_path)
    (data_dir / KEY_FILE).unlink()
    with pytest.raises(ConfigError, match="pseudo.key is missing, but this data dir holds data"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "s2")])
    assert not (data_dir / KEY_FILE).exists()
    assert _batches(data_dir) == 1


def test_another_key_is_refused_and_the_original_works_again(
    data_dir: Path, tmp_path: Path
) -> None:
    original = _loaded(data_dir, tmp_path)
    (data_dir / KEY_FILE).write_text("another key of 32 bytes or more!\n")
    with pytest.raises(ConfigError, match="is not the key this data dir was built with"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "s2")])
    (data_dir / KEY_FILE).write_bytes(original)
    [second] = ingest_files(data_dir, "predictions", [_file(tmp_path, "s2")])
    assert second.status == "committed"
    pids = snapshot_rows(data_dir, "select distinct patient_pid from studies")
    assert pids == [(pseudonymise(original.strip(), "P1"),)]  # one patient, one pseudonym


def test_the_key_in_the_environment_is_checked_too(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _loaded(data_dir, tmp_path)
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "a key set by a secret store, 32+")
    with pytest.raises(ConfigError, match="RADQA_PSEUDO_KEY is not the key this data dir"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "s2")])
    # a secret that did not mount: set, but empty; it must not fall back to the key file
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "")
    with pytest.raises(ConfigError, match="RADQA_PSEUDO_KEY is set but empty"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "s2")])
    assert _batches(data_dir) == 1


def test_a_key_file_others_may_read_or_cannot_be_read_is_a_clear_error(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _loaded(data_dir, tmp_path)
    key = data_dir / KEY_FILE
    key.chmod(0o644)
    args = ["--data-dir", str(data_dir), "ingest", "predictions", str(_file(tmp_path, "s2"))]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "may be read by other users (mode 644)" in err and f"chmod 600 '{key}'" in err
    key.unlink()
    key.mkdir()
    assert main(args) == 2
    assert "cannot read the pseudonymisation key" in capsys.readouterr().err
    assert _batches(data_dir) == 1


def test_a_key_in_the_environment_need_not_be_text(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes that are not UTF-8 in RADQA_PSEUDO_KEY ended in a UnicodeEncodeError traceback."""
    monkeypatch.setenv("RADQA_PSEUDO_KEY", os.fsdecode(b"abcdefghijklmnop\xff\xfe"))
    [result] = ingest_files(data_dir, "predictions", [_file(tmp_path, "s1")])
    assert result.status == "committed"
    pids = snapshot_rows(data_dir, "select patient_pid from studies")
    assert pids == [(pseudonymise(b"abcdefghijklmnop\xff\xfe", "P1"),)]


def test_dicom_ingest_checks_the_key_too(data_dir: Path, tmp_path: Path) -> None:
    from ingest.dicom import ingest_dicom
    from tests.test_dicom import _cr

    _loaded(data_dir, tmp_path)
    (data_dir / KEY_FILE).unlink()
    _cr(tmp_path / "dcm" / "1.dcm", "9.9.1")
    with pytest.raises(ConfigError, match="pseudo.key is missing, but this data dir holds data"):
        ingest_dicom(data_dir, [tmp_path / "dcm"])
    assert not (data_dir / KEY_FILE).exists()


def test_keys_are_read_as_before_the_check_so_an_upgraded_store_keeps_its_pseudonyms(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A QA tester's Kubernetes secret ended in a newline: the check's first version stripped
    it, which made a new key for a store built before, recorded as if it were the store's."""
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "k8s-secret-0123456789abcdef\n")
    ingest_files(data_dir, "predictions", [_file(tmp_path, "s1")])
    pids = snapshot_rows(data_dir, "select patient_pid from studies")
    assert pids == [(pseudonymise(b"k8s-secret-0123456789abcdef\n", "P1"),)]
    monkeypatch.delenv("RADQA_PSEUDO_KEY")
    other = tmp_path / "other"
    other.mkdir()
    (other / KEY_FILE).write_text("a key file of 32 bytes or more!!\u3000\n")
    (other / KEY_FILE).chmod(0o600)
    ingest_files(other, "predictions", [_file(tmp_path, "s2")])
    pids = snapshot_rows(other, "select patient_pid from studies")
    assert pids == [(pseudonymise(b"a key file of 32 bytes or more!!", "P1"),)]


def test_a_store_without_pseudonyms_takes_the_key_it_is_given(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first batch refused under a wrong key locked the empty store to that key."""
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "wrongwrongwrongwrong")
    bad = write(tmp_path / "bad.csv", "a,b\n1,2")
    [refused] = ingest_files(data_dir, "predictions", [bad])
    assert refused.status == "refused"
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "rightrightrightright")
    [result] = ingest_files(data_dir, "predictions", [_file(tmp_path, "s1")])
    assert result.status == "committed"
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "wrongwrongwrongwrong")
    with pytest.raises(ConfigError, match="is not the key this data dir was built with"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "s2")])


def test_a_store_whose_only_pseudonyms_are_in_quarantine_keeps_its_key(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first batch refused by --strict keeps its bad rows, their ids as pseudonyms of the key
    file's key: another key set later was taken, and the quarantine then held pseudonyms of one
    key and the data those of another (found by a tester)."""
    strict = write(
        tmp_path / "s.csv",
        f"{PRED_HEADER}\n{ROW.format(uid='s1')}\ns2,P2,Osaka,2026-10-01,CR,ptx,M,1,x",
    )
    [refused] = ingest_files(data_dir, "predictions", [strict], strict=True)
    assert (refused.status, refused.quarantined) == ("refused", 1)
    monkeypatch.setenv("RADQA_PSEUDO_KEY", "a key set by a secret store, 32+")
    with pytest.raises(ConfigError, match="RADQA_PSEUDO_KEY is not the key this data dir"):
        ingest_files(data_dir, "predictions", [_file(tmp_path, "s3")])
    monkeypatch.delenv("RADQA_PSEUDO_KEY")
    [loaded] = ingest_files(data_dir, "predictions", [_file(tmp_path, "s3")])
    assert loaded.status == "committed"
