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


@pytest.mark.parametrize(
    ("port", "said"),
    [("99999", "99999 is out of range; expected a port 1-65535"),
     ("0", "0 is out of range; expected a port 1-65535"),
     ("http", "'http' is not a port number; expected 1-65535")],
)  # fmt: skip
def test_a_port_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], port: str, said: str
) -> None:
    """`radqa serve --port 99999` printed the dashboard's address, then a traceback
    (OverflowError from bind) with exit 1 (a QA tester)."""
    with pytest.raises(SystemExit) as stop:
        main(["--data-dir", str(tmp_path), "serve", "--port", port])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith(f"radqa serve: error: argument --port: {said}\n")
    assert "RadQA dashboard on" not in err


def test_every_option_of_every_command_says_what_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    """--data-dir was hidden from every command's --help, and demo, export trial and serve had
    options without a word of help (a QA tester)."""
    commands = [["ingest", "predictions"], ["ingest", "reads"], ["ingest", "dicom"], ["demo"],
                ["report", "monthly"], ["export", "trial"], ["publish"], ["serve"], ["rules"]]  # fmt: skip
    for command in commands:
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        assert "--data-dir DATA_DIR" in text, command
        options = text.split("options:")[1]
        # each option is followed by its help: no line holds an option alone
        bare = [
            line
            for line in options.splitlines()
            if line.strip().startswith("-") and len(line.strip().split("  ")) == 1
            and not line.strip().startswith("-h")
        ]  # fmt: skip
        wrapped = [line for line in bare if options.split(line, 1)[1].startswith("\n" + " " * 20)]
        assert bare == wrapped, (command, bare)


def test_ctrl_c_inside_a_query_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while DuckDB runs a query raises RuntimeError('Query interrupted'), which was a
    traceback and exit 1 (a QA tester); the usual 130 now."""
    import radqa.cli as cli

    def interrupted(*args: object) -> int:
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(cli, "_dispatch", interrupted)
    assert main(["--data-dir", str(tmp_path), "publish"]) == 130


def test_a_full_disk_in_duckdb_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import radqa.cli as cli

    def full(*args: object) -> int:
        raise duckdb.IOException(
            'IO Error: Could not write file "/d/.radqa.duckdb.7.tmp": No space left on device\n'
            "more detail"
        )

    monkeypatch.setattr(cli, "_dispatch", full)
    assert main(["--data-dir", str(tmp_path), "publish"]) == 2
    assert capsys.readouterr().err == (
        'radqa: error: IO Error: Could not write file "/d/.radqa.duckdb.7.tmp": No space left on '
        "device\n"
    )


def test_chromium_that_does_not_start_is_one_line_without_advice_to_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TMPDIR a folder that does not exist, the report ended in choreographer's traceback
    advising `choreo_get_chrome`, a browser download (a QA tester)."""
    import tempfile

    import plotly.graph_objects as go

    from radqa.errors import RadQAError
    from reports._charts import Chart, render_svgs

    monkeypatch.setenv("TMPDIR", str(tmp_path / "gone"))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    chart = Chart("k", "s", "c", go.Figure(go.Bar(x=[1], y=[1])), 300)
    with pytest.raises(RadQAError) as err:
        render_svgs([chart])
    text = str(err.value)
    assert text.startswith("the report's charts could not be drawn: Chromium did not start (")
    assert text.endswith(
        "Check that /usr/bin/chromium runs (`make system` installs it) and that the temporary "
        f"folder ({tmp_path / 'gone'}; TMPDIR) is a folder this user can write"
    )
    assert "choreo_get_chrome" not in text


def test_a_port_in_use_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`radqa serve` on a port another dashboard holds printed Streamlit's message and exited 1,
    the code of a quarantined row (a QA re-test)."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert main(["--data-dir", str(tmp_path), "serve", "--port", str(port)]) == 2
    assert capsys.readouterr().err == (
        f"radqa: error: cannot listen on 127.0.0.1:{port}: Address already in use (is a "
        "dashboard already running there? stop it, or choose another --port)\n"
    )


def test_a_bug_is_exit_4_in_one_line_without_the_exceptions_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (a tester: a KeyError traceback) exited 1, which says "done, but rows were
    quarantined", so a cron job took it for a load. It is exit 4, one line naming the
    exception's type and place but not its text, which may quote a value of the data."""
    from ingest import load

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("PAT90001")

    monkeypatch.setattr(load, "_ingest_one", broken)
    monkeypatch.delenv("RADQA_DEBUG", raising=False)
    rows = tmp_path / "p.csv"
    rows.write_text("study_uid\n1\n")
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "ingest", "predictions", str(rows)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("radqa: internal error: KeyError at tests/test_cli_errors.py:"), err
    assert err.count("\n") == 1 and "PAT90001" not in err and "Traceback" not in err
    assert "a batch in progress was not stored. Run again with RADQA_DEBUG=1" in err
    monkeypatch.setenv("RADQA_DEBUG", "1")
    assert main(["--data-dir", str(data), "ingest", "predictions", str(rows)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and "KeyError: 'PAT90001'" in err
