"""RADQA_WRITER_MEMORY and RADQA_READER_MEMORY: a value that is not a size is one line and exit 2
before anything is written, not DuckDB's "Memory must have a number" traceback (a tester)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radqa import store
from radqa.cli import main
from radqa.errors import ConfigError
from tests.ingest.conftest import PRED_HEADER, write

GOOD = f"""
{PRED_HEADER}
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.91
1.2.2,P002,Osaka,2026-10-02,DX,pneumothorax,ChestXR,2.1,0.10
"""
BAD = [
    "1Gi",
    "abc",
    "xyz",
    "",
    "1024",
    "0GB",
    "-1",
    "none",
    "1_000MB",
    "1,5GB",
    "1GB'; select 1; --",
]
# each with the value DuckDB is given
GOOD_SIZES = {"1GB": "1GB", "800MB": "800MB", "1600mb": "1600MB", "1.5GB": "1.5GB",
              "512MiB": "512MiB", "2 GB": "2GB", " 1GB ": "1GB", "1G": "1GB",
              "1\tGB": "1GB", "800\tmib": "800MiB"}  # fmt: skip


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "RADQA_WRITER_MEMORY",
        "RADQA_READER_MEMORY",
        "RADQA_DASHBOARD_MEMORY",
        "RADQA_PSEUDO_KEY",
    ):
        monkeypatch.delenv(name, raising=False)


def message(name: str, value: str) -> str:
    return f"radqa: error: {name} is {value!r}; expected a size such as 1GB or 800MB\n"


@pytest.mark.parametrize("value", BAD)
def test_a_bad_writer_memory_stops_ingest_before_anything_is_written(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(tmp_path / "x.csv", GOOD)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RADQA_WRITER_MEMORY", value)
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 2
    said = capsys.readouterr()
    assert (said.out, said.err) == ("", message("RADQA_WRITER_MEMORY", value))
    assert not data_dir.exists()


def test_a_bad_reader_memory_stops_ingest_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ingest reads the snapshot it publishes (the cases table, the landing view): a bad reader
    setting would fail after the batch was committed."""
    csv = write(tmp_path / "x.csv", GOOD)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RADQA_READER_MEMORY", "xyz")
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 2
    said = capsys.readouterr()
    assert (said.out, said.err) == ("", message("RADQA_READER_MEMORY", "xyz"))
    assert not data_dir.exists()


def test_a_bad_reader_memory_stops_the_monthly_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write(tmp_path / "x.csv", GOOD)
    data_dir = tmp_path / "data"
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 0
    monkeypatch.setenv("RADQA_READER_MEMORY", "xyz")
    capsys.readouterr()
    args = ["--data-dir", str(data_dir), "report", "monthly", "--month", "2026-10"]
    assert main(args) == 2
    said = capsys.readouterr()
    assert (said.out, said.err) == ("", message("RADQA_READER_MEMORY", "xyz"))
    assert not (data_dir / "reports").exists()


@pytest.mark.parametrize("value", GOOD_SIZES)
def test_sizes_are_read_on_use(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADQA_WRITER_MEMORY", value)
    monkeypatch.setenv("RADQA_READER_MEMORY", value)
    assert store.writer_memory() == store.reader_memory() == GOOD_SIZES[value]


def test_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (store.writer_memory(), store.reader_memory()) == ("1GB", "1600MB")
    monkeypatch.setenv("RADQA_READER_MEMORY", "abc")
    assert store.writer_memory() == "1GB"  # each setting is checked on its own use
    with pytest.raises(ConfigError, match="^RADQA_READER_MEMORY is 'abc'; expected a size"):
        store.reader_memory()


def test_the_limits_reach_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv = write(tmp_path / "x.csv", GOOD)
    data_dir = tmp_path / "data"
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 0
    monkeypatch.setenv("RADQA_WRITER_MEMORY", "300MB")
    monkeypatch.setenv("RADQA_READER_MEMORY", "200MiB")
    setting = "select current_setting('memory_limit')"
    con = store.connect_working(data_dir)
    try:
        assert con.execute(setting).fetchone() == ("286.1 MiB",)
        with store.memory_lent(con):
            assert con.execute(setting).fetchone() == ("61.0 MiB",)
        assert con.execute(setting).fetchone() == ("286.1 MiB",)
    finally:
        con.close()
    con = store.open_snapshot(data_dir)
    try:
        assert con.execute(setting).fetchone() == ("200.0 MiB",)
    finally:
        con.close()


@pytest.mark.parametrize("value", BAD)
def test_a_bad_dashboard_memory_stops_serve_before_the_server_starts(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import radqa.serve

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr(radqa.serve.os, "execve", started)
    monkeypatch.setattr(radqa.serve, "_check_port_free", started)
    monkeypatch.setenv("RADQA_DASHBOARD_MEMORY", value)
    assert main(["serve", "--data-dir", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err == message("RADQA_DASHBOARD_MEMORY", value)


@pytest.mark.parametrize("value", GOOD_SIZES)
def test_a_dashboard_memory_size_is_accepted(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADQA_DASHBOARD_MEMORY", value)
    assert store.dashboard_memory() == GOOD_SIZES[value]
    monkeypatch.delenv("RADQA_DASHBOARD_MEMORY")
    assert store.dashboard_memory() == "800MB"


OUT_OF_RANGE = ["1KB", "31MB", "0.03GB", "99999999999999999999GB", "1000TB"]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("env", ["RADQA_WRITER_MEMORY", "RADQA_READER_MEMORY"])
def test_a_size_duckdb_cannot_use_stops_ingest_in_one_line(
    env: str,
    value: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A tester: 1KB passed the check and failed in DuckDB ("Failed to change memory limit"),
    a number too large for it was a traceback ("Memory value out of range")."""
    csv = write(tmp_path / "x.csv", GOOD)
    data_dir = tmp_path / "data"
    monkeypatch.setenv(env, value)
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 2
    said = capsys.readouterr()
    ram = store._machine_memory() / 1024**3
    assert (said.out, said.err) == (
        "",
        f"radqa: error: {env} is {value!r}; expected a size from 32MB up to this machine's "
        f"memory ({ram:.1f} GiB), such as 1GB or 800MB\n",
    )
    assert not data_dir.exists()


@pytest.mark.parametrize("value", ["32MB", "0.032GB", "31MiB", "1.5GiB"])
def test_the_bounds_of_a_size(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADQA_DASHBOARD_MEMORY", value)
    assert store.dashboard_memory() == value  # 31MiB is 32.5 MB: above the bound
    monkeypatch.setattr(store, "_machine_memory", lambda: 2 * 1024**3)
    monkeypatch.setenv("RADQA_DASHBOARD_MEMORY", "2.1GiB")
    with pytest.raises(ConfigError, match=r"up to this machine's memory \(2\.0 GiB\)"):
        store.dashboard_memory()
    monkeypatch.setenv("RADQA_DASHBOARD_MEMORY", "2GiB")
    assert store.dashboard_memory() == "2GiB"
