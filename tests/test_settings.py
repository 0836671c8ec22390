"""radqa.toml: a mistake in it is refused with one line naming the file, the key, what was found
and what was expected, or (an operating point that matches nothing loaded) warned about; never
silently ignored (a QA tester's report, qa9/config)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from radqa import store
from radqa.cli import main
from radqa.errors import ConfigError
from radqa.settings import CLAIM_METRICS, load_settings

HEADER = "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score"
ROW = "1.2.3,P1,Osaka,2026-10-01,CR,pneumothorax,ChestXR-Triage,2.1,0.4"


def _toml(data_dir: Path, text: str) -> Path:
    data_dir.mkdir(exist_ok=True)
    path = data_dir / "radqa.toml"
    path.write_text(text)
    return path


def _refusal(data_dir: Path, text: str) -> str:
    _toml(data_dir, text)
    with pytest.raises(ConfigError) as err:
        load_settings(data_dir)
    return str(err.value)


def _stored(data_dir: Path) -> list[tuple]:
    con = duckdb.connect(str(store.snapshot_path(data_dir)), read_only=True)
    try:
        return con.execute(
            "select score, threshold, threshold_source, predicted from predictions"
        ).fetchall()
    finally:
        con.close()


EXPECTED = (
    'expected time_zone = "Area/City" and extra_columns = ["column", ...] (before the first '
    '[section]), [operating_points], [site_map], [claims."MODEL"]'
)


def test_a_misspelled_section_or_key_is_refused_with_the_close_match(tmp_path: Path) -> None:
    path = tmp_path / "radqa.toml"
    assert _refusal(tmp_path, '[operating_point]\n"ChestXR-Triage/pneumothorax" = 0.35\n') == (
        f"{path}: unknown section [operating_point] (did you mean [operating_points]?); {EXPECTED}"
    )
    assert _refusal(tmp_path, 'timezone = "Asia/Tokyo"\n') == (
        f"{path}: unknown key timezone = 'Asia/Tokyo' (did you mean time_zone?); {EXPECTED}"
    )
    assert _refusal(tmp_path, "tz = 9\n") == f"{path}: unknown key tz = 9; {EXPECTED}"


def test_a_top_level_key_written_after_a_section_is_refused(tmp_path: Path) -> None:
    """TOML puts the line inside the section above it: it became a site map entry."""
    path = tmp_path / "radqa.toml"
    assert _refusal(tmp_path, '[site_map]\n"A" = "B"\ntime_zone = "Asia/Tokyo"\n') == (
        f"{path}: [site_map] holds time_zone = 'Asia/Tokyo': a line after a [section] header "
        "belongs to that section; move time_zone above the first [section]"
    )
    text = '[claims."ChestXR-Triage"]\naccuracy = 0.9\ntime_zone = "Asia/Tokyo"\n'
    assert _refusal(tmp_path, text) == (
        f"{path}: [claims.ChestXR-Triage] holds time_zone = 'Asia/Tokyo': a line after a "
        "[section] header belongs to that section; move time_zone above the first [section]"
    )


def test_an_unknown_claim_metric_is_refused(tmp_path: Path) -> None:
    assert _refusal(tmp_path, '[claims."CT ICH"]\nacuracy = 0.97\n') == (
        f'{tmp_path / "radqa.toml"}: [claims."CT ICH"] has an unknown metric acuracy = 0.97 '
        "(did you mean accuracy?); expected one of sensitivity, specificity, ppv, npv, "
        "accuracy, agreement, auc, kappa"
    )


def test_the_claim_metrics_are_those_claim_check_knows() -> None:
    from metrics._claims import METRICS

    assert CLAIM_METRICS == METRICS


def test_a_valid_file_still_loads(tmp_path: Path) -> None:
    _toml(
        tmp_path,
        'time_zone = "Asia/Tokyo"\n[operating_points]\n"M/ptx" = 0.35\n'
        '[site_map]\n"OSAKA UNIV HOSP" = "Osaka"\n[claims."M"]\naccuracy = 0.9\nkappa = 0.6\n',
    )
    settings = load_settings(tmp_path)
    assert (settings.time_zone, settings.operating_points) == ("Asia/Tokyo", {"M/ptx": 0.35})
    assert settings.site_map == {"OSAKA UNIV HOSP": "Osaka"}
    assert settings.claims == {"M": {"accuracy": 0.9, "kappa": 0.6}}


def test_ingest_refuses_a_misspelled_section_before_loading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    path = _toml(data, '[operating_point]\n"ChestXR-Triage/pneumothorax" = 0.35\n')
    csv = tmp_path / "p1.csv"
    csv.write_text(f"{HEADER}\n{ROW}\n")
    assert main(["--data-dir", str(data), "ingest", "predictions", str(csv)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"radqa: error: {path}: unknown section [operating_point] (did you mean "
        f"[operating_points]?); {EXPECTED}\n"
    )
    assert not store.snapshot_path(data).exists()


def test_an_operating_point_that_matches_no_model_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key that differs in case, or names no model loaded, sets no threshold: the ingest
    output says so (a warning, not a refusal: the rows are stored, with 0.5)."""
    data = tmp_path / "data"
    path = _toml(
        data,
        '[operating_points]\n"chestxr-triage/Pneumothorax" = 0.35\n"NoSuchModel/ptx" = 0.2\n'
        '"ChestXR-Triage/pneumothorax" = 0.45\n',
    )
    csv = tmp_path / "p1.csv"
    csv.write_text(f"{HEADER}\n{ROW}\n")
    assert main(["--data-dir", str(data), "ingest", "predictions", str(csv)]) == 0
    out = capsys.readouterr().err.splitlines()  # warnings go to stderr (26003a3)
    assert [line for line in out if line.startswith("warning:")] == [
        f"warning: {path}: operating point 'NoSuchModel/ptx' matches no model_name/finding "
        "loaded (names are matched exactly, case included), so it sets no threshold",
        f"warning: {path}: operating point 'chestxr-triage/Pneumothorax' matches no "
        "model_name/finding loaded (names are matched exactly, case included), so it sets no "
        "threshold; did you mean 'ChestXR-Triage/pneumothorax'?",
    ]
    assert _stored(data) == [(0.4, 0.45, "configured", False)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "operating_points = 0.35\n",
            "operating_points = 0.35; expected a section [operating_points] of "
            '"model_name/finding" = threshold',
        ),
        (
            'site_map = "x"\n',
            'site_map = \'x\'; expected a section [site_map] of "InstitutionName" = "site"',
        ),
        (
            '[site_map]\n"A" = 5\n',
            "site_map.A = 5; expected the site's name as text, such as "
            '"Osaka University Hospital"',
        ),
        (
            '[site_map]\n"EMPTY MAP" = " "\n',
            "site_map.\"EMPTY MAP\" = ' '; expected the site's name as text, such as "
            '"Osaka University Hospital"',
        ),
        (
            '[claims]\n"ChestXR-Triage" = 0.9\n',
            "claims.ChestXR-Triage = 0.9; expected a section [claims.ChestXR-Triage] of "
            "metric = figure, such as accuracy = 0.974",
        ),
        (
            '[claims."ChestXR-Triage"]\nagreement = "high"\n',
            "claims.ChestXR-Triage.agreement = 'high'; expected a number between 0 and 1, "
            "a fraction such as 0.974 (not a percentage)",
        ),
        (
            '[claims."ChestXR-Triage"]\naccuracy = 97.4\n',
            "claims.ChestXR-Triage.accuracy = 97.4; expected a number between 0 and 1, "
            "a fraction such as 0.974 (not a percentage)",
        ),
        (
            '[claims."ChestXR-Triage"]\nkappa = -1.5\n',
            "claims.ChestXR-Triage.kappa = -1.5; expected a number between -1 and 1, "
            "a fraction such as 0.974 (not a percentage)",
        ),
        (
            'time_zone = "localtime"\n',
            "time_zone = 'localtime'; expected an IANA time zone name such as 'Asia/Tokyo'; "
            "leave time_zone out for this machine's zone",
        ),
        (
            'time_zone = "posixrules"\n',
            "time_zone = 'posixrules'; expected an IANA time zone name such as 'Asia/Tokyo'",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    assert _refusal(tmp_path, text) == f"{tmp_path / 'radqa.toml'}: {message}"


def test_a_negative_kappa_claim_is_a_figure(tmp_path: Path) -> None:
    _toml(tmp_path, '[claims."M"]\nkappa = -0.2\n')
    assert load_settings(tmp_path).claims == {"M": {"kappa": -0.2}}


def test_a_file_that_is_not_utf8_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Japanese site names saved as cp932 (Windows Notepad's "ANSI") gave a UnicodeDecodeError
    traceback and exit 1, the code of "rows quarantined"."""
    data = tmp_path / "data"
    data.mkdir()
    path = data / "radqa.toml"
    path.write_bytes('[site_map]\n"OSAKA" = "大阪大学病院"\n'.encode("cp932"))
    csv = tmp_path / "p1.csv"
    csv.write_text(f"{HEADER}\n{ROW}\n")
    assert main(["--data-dir", str(data), "ingest", "predictions", str(csv)]) == 2
    assert capsys.readouterr().err == (
        f"radqa: error: {path}: line 2 is not UTF-8 text (byte 0x91); save the file as UTF-8\n"
    )


def test_a_claim_of_the_wrong_type_stops_ingest_before_it_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It committed the rows, then failed with a traceback in the dashboard warm-up (exit 1)."""
    data = tmp_path / "data"
    path = _toml(data, '[claims."ChestXR-Triage"]\nagreement = "high"\n')
    csv = tmp_path / "p1.csv"
    csv.write_text(f"{HEADER}\n{ROW}\n")
    assert main(["--data-dir", str(data), "ingest", "predictions", str(csv)]) == 2
    assert capsys.readouterr().err == (
        f"radqa: error: {path}: claims.ChestXR-Triage.agreement = 'high'; expected a number "
        "between 0 and 1, a fraction such as 0.974 (not a percentage)\n"
    )
    assert not store.snapshot_path(data).exists()


@pytest.mark.parametrize("value", ["true", "false"])
def test_an_operating_point_of_true_or_false_is_refused(tmp_path: Path, value: str) -> None:
    """`true` was stored as the threshold 1.0 (a bool is an int in Python)."""
    assert _refusal(tmp_path, f'[operating_points]\n"ChestXR-Triage/pneumothorax" = {value}\n') == (
        f"{tmp_path / 'radqa.toml'}: operating_points.'ChestXR-Triage/pneumothorax' = "
        f'{value.title()}; expected "model_name/finding" = a number between 0 and 1'
    )
    _toml(tmp_path, '[operating_points]\n"ChestXR-Triage/pneumothorax" = 1\n')
    assert load_settings(tmp_path).operating_points == {"ChestXR-Triage/pneumothorax": 1.0}


def test_a_byte_order_mark_is_read_as_utf8(tmp_path: Path) -> None:
    """Notepad's "UTF-8 with BOM" gave "not valid TOML: Invalid statement (at line 1, column 1)"."""
    text = '\ufefftime_zone = "Asia/Tokyo"\r\n[operating_points]\r\n"M/ptx" = 0.35\r\n'
    (tmp_path / "radqa.toml").write_bytes(text.encode("utf-8"))
    settings = load_settings(tmp_path)
    assert (settings.time_zone, settings.operating_points) == ("Asia/Tokyo", {"M/ptx": 0.35})


def test_the_monthly_report_stops_on_a_broken_radqa_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exited 0: the admin heard of the broken file only at the next ingest (qa9 fault 12)."""
    data = tmp_path / "data"
    path = _toml(data, "this is [not toml\n")
    out = tmp_path / "out"
    argv = ["--data-dir", str(data), "report", "monthly", "--month", "2026-10", "--out", str(out)]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        f"radqa: error: {path}: not valid TOML: Expected '=' after a key in a key/value pair "
        "(at line 1, column 6)\n"
    )
    assert not out.exists()


def test_the_demo_settings_say_where_claims_are_checked(tmp_path: Path) -> None:
    """They said "on the dashboard's Overview and in the monthly report"; the report has no
    claims."""
    from radqa.demo import DEMO_SETTINGS

    assert DEMO_SETTINGS.splitlines()[:2] == [
        "# Written by `radqa demo` (only when the data dir had no radqa.toml). Vendor claims are "
        "checked",
        "# against the local data on the dashboard's Overview (the monthly report does not show "
        "them).",
    ]
    _toml(tmp_path, DEMO_SETTINGS)
    assert load_settings(tmp_path).claims == {
        "ChestXR-Triage": {"accuracy": 0.974, "agreement": 0.93}
    }
