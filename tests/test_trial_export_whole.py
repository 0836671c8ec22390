"""`radqa export trial` lands whole or not at all: a full disk while one file is written leaves
every file under its final name as it was (a previous export's included) and no temporary
folder (qa9/crash fault 4)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pytest

import reports.trial
from radqa.cli import main
from reports.trial import export_trial

from .test_trial_export import _small_trial

FULL = "No space left on device"
TABLES = ("flow", "endpoint", "methods", "provenance")  # a few of the CSVs


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return _small_trial(tmp_path_factory.mktemp("small"), {"A": "A", "B": "B"})


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _half_then_full(write):  # noqa: ANN001, ANN202
    """``write`` (a writer taking the output path first) that writes half the file, then fails
    as a full disk does: ENOSPC, with no file name."""

    def failing(target, path, *args, **kwargs):  # noqa: ANN001, ANN202
        whole = Path(path).parent / ".whole"
        write(target, whole, *args, **kwargs)
        data = whole.read_bytes()
        whole.unlink()
        Path(path).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, FULL)

    return failing


def _fail_writing(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the export's write of the file ``name`` stop half way on a full disk."""
    if name == "trial.xlsx":
        original = reports.trial.write_workbook
        fail = _half_then_full(lambda _, path, *a, **kw: original(path, *a, **kw))
        monkeypatch.setattr(
            reports.trial, "write_workbook", lambda path, *a, **kw: fail(None, path, *a, **kw)
        )
    elif name == "trial.json":
        original_text = Path.write_text
        fail = _half_then_full(lambda _, path, text: original_text(Path(path), text))
        monkeypatch.setattr(Path, "write_text", lambda self, text, *a, **kw: fail(None, self, text))
    else:
        original_csv = pd.DataFrame.to_csv
        fail = _half_then_full(original_csv)

        def to_csv(frame, path=None, *args, **kwargs):  # noqa: ANN001, ANN202
            if path is not None and Path(path).name == name:
                return fail(frame, path, *args, **kwargs)
            return original_csv(frame, path, *args, **kwargs)

        monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)


@pytest.mark.parametrize("failing", ["trial.xlsx", "trial_endpoint.csv", "trial.json"])
def test_full_disk_leaves_the_previous_export_as_it_was(small, tmp_path, monkeypatch, failing):
    out = tmp_path / "out"
    first = export_trial(small, out, date_to="2026-12-31")
    before = _contents(out)
    assert sorted(before) == sorted(p.name for p in first)
    assert {"trial.xlsx", "trial_endpoint.csv", "trial.json"} <= set(before)
    _fail_writing(monkeypatch, failing)
    with pytest.raises(OSError) as caught:
        # another date range: every file would differ from the first export's
        export_trial(small, out, date_to="2026-06-30")
    # every file under its final name is the first export's, byte for byte; nothing else
    assert _contents(out) == before
    assert json.loads(before["trial.json"])["provenance"]["parameter: to"] == "2026-12-31"
    assert sorted(os.listdir(tmp_path)) == ["out"]
    # the error names the file (a write error's own names none)
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(out / failing)
    assert str(caught.value) == f"[Errno {errno.ENOSPC}] {FULL}: '{out / failing}'"


def test_full_disk_on_a_first_export_leaves_no_file(small, tmp_path, monkeypatch):
    _fail_writing(monkeypatch, "trial.json")
    with pytest.raises(OSError, match=FULL):
        export_trial(small, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []


def test_cli_names_the_file_on_a_full_disk(small, tmp_path, monkeypatch, capsys):
    _fail_writing(monkeypatch, "trial.json")
    code = main(["--data-dir", str(small), "export", "trial", "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == f"radqa: error: {FULL}: {tmp_path / 'trial.json'}\n"
    assert os.listdir(tmp_path) == []


def test_export_of_a_killed_run_is_cleaned_up(small, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # a temporary folder left by an export killed before it finished (no such process)
    # and one of an export still running (this process)
    dead = out / ".radqa-trial.4194304.abc"
    running = out / f".radqa-trial.{os.getpid()}.def"
    for folder in (dead, running):
        folder.mkdir()
        (folder / "trial.json").write_text("{")
    written = export_trial(small, out, formats=("json", "csv"))
    assert sorted(os.listdir(out)) == sorted([running.name, *(p.name for p in written)])
    assert json.loads((out / "trial.json").read_text())["tables"]
    assert [t for t in TABLES if not (out / f"trial_{t}.csv").is_file()] == []


def test_xlsxwriters_wrapped_full_disk_is_one_line(small, tmp_path, monkeypatch, capsys):
    """xlsxwriter wraps a full disk's OSError in its FileCreateError, which escaped as a triple
    traceback with exit 1 (a QA re-test)."""
    from xlsxwriter.exceptions import FileCreateError

    def full(path, *args, **kwargs):  # noqa: ANN001, ANN202
        raise FileCreateError(OSError(errno.ENOSPC, FULL))

    monkeypatch.setattr(reports.trial, "write_workbook", full)
    code = main(["--data-dir", str(small), "export", "trial", "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == f"radqa: error: {FULL}: {tmp_path / 'trial.xlsx'}\n"
    assert os.listdir(tmp_path) == []
