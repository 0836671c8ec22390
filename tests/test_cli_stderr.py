"""`radqa ingest`: the lines of the files refused go to stderr, the summary of what loaded to
stdout (a cron job mails stderr; a script parses stdout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from radqa.cli import main
from tests.ingest.conftest import PRED_HEADER, write

GOOD = f"""
{PRED_HEADER}
1.2.1,P001,Osaka,2026-10-01,CR,pneumothorax,ChestXR,2.1,0.91
1.2.2,P002,Osaka,2026-10-02,DX,pneumothorax,ChestXR,2.1,0.10
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RADQA_PSEUDO_KEY", raising=False)
    return tmp_path / "data"


def ingest(
    data_dir: Path, capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, list[str], list[str]]:
    """Exit code, stdout lines (without the dashboard warm-up line) and stderr lines."""
    capsys.readouterr()
    code = main(["--data-dir", str(data_dir), "ingest", *map(str, args)])
    said = capsys.readouterr()
    out = [s for s in said.out.splitlines() if not s.startswith("dashboard landing view")]
    return code, out, said.err.splitlines()


def test_a_file_refused_whole_is_on_stderr_the_summary_on_stdout(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "a_good.csv", GOOD)
    header = PRED_HEADER.removesuffix(",score")
    no_score = write(tmp_path / "b_no_score.csv", f"{header}\n1.2.3,P003,Osaka,2026-10-03,CR,f,M,1")
    code, out, err = ingest(data_dir, capsys, "predictions", good, no_score)
    assert code == 1
    assert out == [
        "committed  a_good.csv: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined",
        "total: 2 file(s), 2 rows accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined, "
        "1 file(s) refused",
    ]
    assert err == [
        "  refused  b_no_score.csv: missing required column(s): score; columns found: study_uid, "
        "patient_id, site, study_datetime, modality, finding, model_name, model_version"
    ]


def test_a_batch_refused_by_strict_is_on_stderr_with_its_reasons(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "a_good.csv", GOOD)
    bad = write(tmp_path / "b_bad.csv", f"{PRED_HEADER}\n1.2.9,P009,Osaka,2026-10-01,CR,f,M,1,abc")
    code, out, err = ingest(data_dir, capsys, "predictions", "--strict", good, bad)
    assert code == 1
    assert out == [
        "committed  a_good.csv: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined",
        "total: 2 file(s), 2 rows accepted (2 new, 0 replaced, 0 unchanged), 1 quarantined, "
        "1 file(s) refused",
    ]
    assert err == [
        "  refused  b_bad.csv: 1 of 1 rows break the contract; --strict refuses the whole file "
        "(the rows and their reasons are kept in quarantine)",
        "           b_bad.csv: row 1: column 'score' is 'abc'; expected a number between 0 and 1",
    ]


def test_reads_refused_whole_are_on_stderr_and_a_clean_run_writes_none(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest(data_dir, capsys, "predictions", write(tmp_path / "p.csv", GOOD))[0] == 0
    assert ingest(data_dir, capsys, "predictions", tmp_path / "p.csv")[2] == []  # nothing refused
    reads = write(tmp_path / "r.csv", "study_uid,finding,label\n1.2.1,pneumothorax,1")
    code, out, err = ingest(data_dir, capsys, "reads", reads)
    assert code == 1
    assert out == [
        "total: 1 file(s), 0 rows accepted (0 new, 0 replaced, 0 unchanged), 0 quarantined, "
        "1 file(s) refused"
    ]
    assert err == [
        "  refused  r.csv: missing required column(s): reader_id, read_datetime; columns found: "
        "study_uid, finding, label"
    ]


def test_dicom_files_skipped_are_on_stderr(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.dcm").write_bytes(Path(str(get_testdata_file("CT_small.dcm"))).read_bytes())
    (src / "b.dcm").write_bytes(b"not dicom")
    code, out, err = ingest(data_dir, capsys, "dicom", src)
    assert code == 1
    assert len(out) == 2
    assert out[0].endswith("1 file(s) skipped")  # the count stays in the summary
    assert out[1].startswith("published snapshot ")
    assert err == [
        "skipped 1 file(s):",
        "  b.dcm: not a DICOM file (no 'DICM' prefix after the 128-byte preamble)",
    ]


def test_an_operating_point_warning_is_on_stderr_the_summary_on_stdout(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.mkdir()
    toml = data_dir / "radqa.toml"
    toml.write_text('[operating_points]\n"ChestXR/Pneumothorax" = 0.4\n')
    csv = write(tmp_path / "p.csv", GOOD)
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 0
    said = capsys.readouterr()
    out = said.out.splitlines()
    assert out[:2] == [
        "committed  p.csv: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined",
        "total: 1 file(s), 2 rows accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined, "
        "0 file(s) refused",
    ]
    # the landing view's line stays on stdout: it is informational
    assert len(out) == 3 and re.fullmatch(r"dashboard landing view computed \(\d+\.\d s\)", out[2])
    assert said.err.splitlines() == [
        f"warning: {toml}: operating point 'ChestXR/Pneumothorax' matches no model_name/finding "
        "loaded (names are matched exactly, case included), so it sets no threshold; did you "
        "mean 'ChestXR/pneumothorax'?"
    ]


def test_a_landing_view_that_could_not_be_computed_is_said_on_stderr(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The data is committed (stdout says so); the failure to precompute the first page is a
    notice for whoever reads stderr."""
    import dashboard.warmup
    from radqa.errors import StoreError

    def fail(_data_dir: Path) -> int:
        raise StoreError("the snapshot could not be opened")

    monkeypatch.setattr(dashboard.warmup, "warm", fail)
    csv = write(tmp_path / "p.csv", GOOD)
    assert main(["--data-dir", str(data_dir), "ingest", "predictions", str(csv)]) == 0
    said = capsys.readouterr()
    assert said.err.splitlines() == [
        "dashboard landing view not precomputed: the snapshot could not be opened"
    ]
    assert "not precomputed" not in said.out and said.out.startswith("committed  p.csv")
