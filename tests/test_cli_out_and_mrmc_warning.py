"""A QA tester's fault 16: `--out FILE` failed only after the whole report or export was
computed ("File exists"), and `export trial` printed numpy's "Degrees of freedom <= 0" warning."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from radqa.cli import main


@pytest.mark.parametrize(
    "command",
    [["report", "monthly", "--month", "2026-10"], ["export", "trial"]],
    ids=["report-monthly", "export-trial"],
)
def test_out_naming_a_file_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """The data dir has no snapshot: the --out check comes first, so it is what is said."""
    target = tmp_path / "p1.csv"
    target.write_text("study_uid\n")
    rc = main(["--data-dir", str(tmp_path / "data"), *command, "--out", str(target)])
    assert (rc, capsys.readouterr()) == (
        2, ("", f"radqa: error: --out {target} is a file; expected a folder\n")
    )  # fmt: skip
    assert target.read_text() == "study_uid\n"
    assert not (tmp_path / "data").exists()


def test_a_subgroup_of_one_case_is_not_estimable_without_a_warning() -> None:
    """export trial's OR analysis per subgroup: a subgroup holding a single case has no
    jackknife covariance; the interval is NaN and the estimates sheet says why."""
    from metrics._mrmc import or_analysis
    from metrics._trial_compare import _or_fields

    fom = np.array([[0.8, 0.6], [0.7, 0.9]])
    jack = fom[..., None].copy()  # one case: leaving it out leaves nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's RuntimeWarning would raise here
        res = or_analysis(fom, jack, ["a", "b"], ["r1", "r2"])
    single = res.random.treatment_aucs["a"]
    assert single.value == pytest.approx(0.7)
    assert math.isnan(single.se) and math.isnan(single.low) and math.isnan(single.high)
    fields = _or_fields(single, (0.0, 1.0))
    assert fields["estimate"] == pytest.approx(0.7)
    assert math.isnan(fields["ci_low"]) and math.isnan(fields["ci_high"])  # type: ignore[arg-type]
    assert fields["note"] == (
        "no variation between readers or cases (or too few cases for the jackknife): the OR "
        "interval is not estimable"
    )
