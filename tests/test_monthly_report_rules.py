"""The monthly report with alert rules files other than the defaults (a QA tester's faults 1, 8).

A small hand-built store (a QA tester's r1, rebuilt here): four sites of one scanner and one
finding, reference months 2025-01..06, monitored months 2025-07..09. In it S1's sensitivity
falls from 0.90 (90 of 100) to 0.70 in 07 and 08, and S3's volume falls from 100 to 40 in 08.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from metrics import load_rules
from radqa import store
from reports._charts import iter_charts
from reports._render import context
from reports.monthly import ReportSettings, build_monthly_report

REFERENCE = [f"2025-0{m}" for m in range(1, 7)]
MONITORED = ["2025-07", "2025-08", "2025-09"]


def _write_store(path: Path) -> None:
    from ingest.load import ingest_files

    uid = 0
    preds: list[list[object]] = []
    reads: list[list[object]] = []

    def add(site: str, month: str, label: int, ai: int, n: int) -> None:
        nonlocal uid
        for i in range(n):
            uid += 1
            day = f"{month}-{1 + i % 27:02d}"
            preds.append([f"1.2.3.{uid}", site, "ptx", "M", "1", f"P{uid}", f"{day}T10:00:00",
                          "CR", 0.9 if ai else 0.1, ai, "Acme", "ScanA", "v1"])  # fmt: skip
            reads.append([f"1.2.3.{uid}", "ptx", "R1", label, f"{day}T12:00:00"])

    for m in REFERENCE + MONITORED:
        tp = 70 if m in ("2025-07", "2025-08") else 90
        add("S1", m, 1, 1, tp)
        add("S1", m, 1, 0, 100 - tp)
        add("S1", m, 0, 0, 180)
        add("S1", m, 0, 1, 20)
        add("S2", m, 1, 1, 180)
        add("S2", m, 1, 0, 20)
        add("S3", m, 0, 0, 40 if m == "2025-08" else 100)
    header = ("study_uid,site,finding,model_name,model_version,patient_id,study_datetime,"
              "modality,score,predicted,scanner_manufacturer,scanner_model,scanner_software")  # fmt: skip
    for name, head, rows in (("pred.csv", header, preds),
                             ("reads.csv", "study_uid,finding,reader_id,label,read_datetime",
                              reads)):  # fmt: skip
        with open(path.parent / f"{path.name}-{name}", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(head.split(","))
            w.writerows(rows)
    ingest_files(path, "predictions", [path.parent / f"{path.name}-pred.csv"], publish=False)
    ingest_files(path, "reads", [path.parent / f"{path.name}-reads.csv"], publish="end")


@pytest.fixture(scope="module")
def r1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("r1") / "data"
    path.mkdir()
    _write_store(path)
    return path


def _report(data_dir: Path, rules_toml: str, tmp_path: Path, month: str = "2025-08"):  # noqa: ANN202
    """The report of ``month`` with these rules, taken through every section that does not
    need Chromium: its tables, charts (plotly figures), the template's context and the JSON."""
    path = tmp_path / "alert_rules.toml"
    path.write_text(rules_toml)
    settings = ReportSettings(rules=tuple(load_rules(path)), rules_source="alert_rules.toml")
    con = store.open_snapshot(data_dir)
    try:
        rep = build_monthly_report(con, month, settings)
    finally:
        con.close()
    charts = [c.key for c in iter_charts(rep)]
    ctx = context(rep)
    doc = json.loads(json.dumps(rep.to_json(), allow_nan=False))
    return rep, charts, ctx, doc


def _rule(name: str, method: str, metric: str, group_by: list[str], threshold: float,
          extra: str = "") -> str:  # fmt: skip
    groups = ", ".join(f'"{g}"' for g in group_by)
    return (f'[[rule]]\nname = "{name}"\nmethod = "{method}"\nmetric = "{metric}"\n'
            f"group_by = [{groups}]\nthreshold = {threshold}\n{extra}")  # fmt: skip


SITE_SENS = _rule("sens drop", "two_proportion", "sensitivity", ["site"], 0.05,
                  'direction = "decrease"\n')  # fmt: skip
NOT_CHECKED = {
    "volume": "studies per site and month (a poisson volume rule grouped by site alone, "
              "window_months 1)",
    "new": "new scanners, software and AI model versions (a new_category rule)",
    "hist": "score histograms (a psi rule grouped by site, scanner_model and finding)",
}  # fmt: skip


def _not_checked(*keys: str) -> str:
    return (
        "Not checked, because the alert rules have no rule for them: "
        f"{'; '.join(NOT_CHECKED[k] for k in keys)}. Add such a rule to alert_rules.toml to "
        "have them in the report."
    )


# ----------------------------------------------------------------------------- fault 1
def test_a_site_level_rule_alone_gives_the_report(r1: Path, tmp_path: Path) -> None:
    """The QA tester's first file: KeyError 'scanner_model' in _selected_histograms."""
    rep, charts, ctx, doc = _report(r1, SITE_SENS, tmp_path)
    assert [(a["rule"], a["group"], round(a["value"], 6), a["evidence"]["n"]) for a in
            doc["alerts"]] == [("sens drop", {"site": "S1"}, -0.2, 100)]  # fmt: skip
    assert doc["readings"][0].startswith(
        "Sensitivity at S1 fell from 90.0% to 70.0% (difference −20.0 percentage points, 95% CI "
        "−29.8 to −11.5; n = 100)"
    )
    assert doc["tables"]["score_histograms"] == []
    assert "histograms" not in charts and "volume" not in charts
    assert _not_checked("volume", "new", "hist") in doc["notes"]
    volume = next(t for t in ctx["volume"] if t["title"] == "Studies by site, 2025-08")
    assert (volume["rows"], volume["note"]) == (
        [],
        "Not checked: the alert rules have no poisson volume rule grouped by site alone "
        "(window_months 1).",
    )
    new = next(t for t in ctx["drift"] if t["title"].startswith("New scanners"))
    assert (new["rows"], new["note"]) == ([], "Not checked: the alert rules have no "
                                              "new_category rule.")  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "not_checked", "checks", "alerts"),
    [
        (_rule("psi", "psi", "score", ["site", "finding"], 0.2), ("volume", "new", "hist"),
         [("psi", 3, 0, 0)], []),
        (_rule("psi", "psi", "score", ["finding"], 0.2), ("volume", "new", "hist"),
         [("psi", 1, 0, 0)], []),
        (_rule("new sw", "new_category", "scanner_software", ["site"], 0.0), ("volume", "hist"),
         [], []),  # no new category: the rule has no row at all
        (_rule("vol", "poisson", "volume", ["modality"], 0.3), ("volume", "new", "hist"),
         [("vol", 1, 0, 0)], []),  # 540 studies in CR against 600: -10%
        (_rule("pc", "p_chart", "sensitivity", ["site"], 3.0), ("volume", "new", "hist"),
         [("pc", 1, 1, 1)], [("pc", {"site": "S1"}, -6.666667)]),  # S3: no positives
    ],
    ids=["psi-site-finding", "psi-finding", "new-category-only", "poisson-modality", "spc-site"],
)  # fmt: skip
def test_any_valid_rules_file_gives_the_report(
    r1: Path, tmp_path: Path, rules: str, not_checked: tuple[str, ...],
    checks: list[tuple[object, ...]], alerts: list[tuple[object, ...]],
) -> None:  # fmt: skip
    """The QA tester's other files, each of which crashed with a KeyError."""
    rep, charts, ctx, doc = _report(r1, rules, tmp_path)
    assert doc["tables"]["score_histograms"] == []
    # the p-chart of the AI positive rate does not depend on the rules (it was dropped when
    # no rule had a row)
    assert charts == ["trend", "forest-0", "spc"]
    assert len(doc["tables"]["positive_rate_spc"]) == 3 * 2  # 3 sites x 2 monitored months (07, 08)
    assert _not_checked(*not_checked) in doc["notes"]
    assert [(c["rule"], c["ok"], c["drift"], c["insufficient data"])
            for c in doc["tables"]["drift_checks"]] == checks  # fmt: skip
    assert [(a["rule"], a["group"], round(a["value"], 6)) for a in doc["alerts"]] == alerts


def test_the_histograms_follow_the_psi_rule_grouped_by_site_scanner_and_finding(
    r1: Path, tmp_path: Path
) -> None:
    """The keys in another order and a second such rule: each group's histogram once."""
    rules = (_rule("psi a", "psi", "score", ["finding", "scanner_model", "site"], 0.2)
             + _rule("psi b", "psi", "score", ["site", "scanner_model", "finding"], 0.2))  # fmt: skip
    rep, charts, ctx, doc = _report(r1, rules, tmp_path)
    hist = rep.tables["score_histograms"]
    assert hist.groupby("rank")["site"].first().tolist() == ["S1", "S2", "S3"]
    assert (hist.groupby("rank").size() == 50).all()
    assert "histograms" in charts
    assert _not_checked("volume", "new") in doc["notes"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs /usr/bin/chromium (kaleido)")
def test_the_command_writes_the_report_of_a_site_level_rules_file(
    r1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The QA tester's command: `radqa report monthly` exited 1 with a traceback."""
    from radqa.cli import main

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(store.snapshot_path(r1), store.snapshot_path(data))
    (data / "alert_rules.toml").write_text(SITE_SENS)
    rc = main(["--data-dir", str(data), "report", "monthly", "--month", "2025-08",
               "--out", str(tmp_path / "out")])  # fmt: skip
    out, err = capsys.readouterr()
    assert (rc, err) == (0, "")
    assert out.split() == [str(tmp_path / "out" / f"drift-report-2025-08.{e}")
                           for e in ("html", "pdf", "json")]  # fmt: skip
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "out" / "drift-report-2025-08.pdf"),
                               "-"], check=True, capture_output=True, text=True).stdout  # fmt: skip
        assert "Sensitivity at S1 fell from 90.0% to 70.0%" in " ".join(text.split())


# ----------------------------------------------------------------------------- fault 8
SPC_RULES = (
    _rule("pc", "p_chart", "sensitivity", ["site"], 2.0)
    + _rule("cu", "cusum", "positive_rate", ["site"], 6.5)
    + _rule("ew", "ewma", "sensitivity", ["site"], 3.0)
    + _rule("vol", "poisson", "volume", ["site"], 0.5, 'direction = "decrease"\n')
)


def test_control_chart_alerts_read_as_control_charts(r1: Path, tmp_path: Path) -> None:
    """A QA tester: the p-chart's z was printed as a "difference" and its limits as a "95% CI".

    2025-07 at S1: sensitivity 70 of 100 against 540 of 600 (0.90), so z = -0.2 / 0.03 = -6.67
    and the 2-sigma limits are 0.90 -/+ 0.06. At S2 the AI positive rate is 180 of 200 in
    every month (no signal); at S1 it falls from 110/300 to 90/300, z = -2.40, C- = 1.90 < 6.5.
    The EWMA's first month is z itself in units of its standard deviation.
    """
    rep, charts, ctx, doc = _report(r1, SPC_RULES, tmp_path, month="2025-07")
    assert doc["readings"] == [
        "Sensitivity at S1 fell from 90.0% to 70.0% (beyond the lower 2-sigma p-chart limit "
        "84.0%: limits 84.0% to 96.0%, z = −6.67; n = 100); 1 month running (since 2025-07).",
        "Sensitivity at S1 fell from 90.0% to 70.0% (the EWMA of standardized deviations is "
        "−6.67 of its standard deviations, beyond L = 3; lambda = 0.2; n = 100); 1 month "
        "running (since 2025-07).",
    ]
    drifting = next(t for t in ctx["drift"] if t["title"].startswith("Groups drifting"))
    assert drifting["header"][5:8] == ["Effect", "95% CI or limits", "p adj."]
    assert [r[5:8] for r in drifting["rows"]] == [
        ["EWMA/sd = −6.67", "–", "–"], ["z = −6.67", "limits 0.84 to 0.96", "–"],
    ]  # fmt: skip
    assert "control charts have no p-value" in drifting["note"]


def test_a_cusum_alert_names_its_decision_interval(r1: Path, tmp_path: Path) -> None:
    """S1's AI positive rate: z = (90/300 - 110/300) / sqrt(p0 (1 - p0) / 300) = -2.396 a month
    in 07 and 08, so C- = 1.896 then 3.792: above h = 3 in 08, below the default h = 4."""
    rules = _rule("cu", "cusum", "positive_rate", ["site"], 3.0)
    rep, charts, ctx, doc = _report(r1, rules, tmp_path, month="2025-08")
    assert doc["readings"] == [
        "AI positive rate at S1 fell from 36.7% to 30.0% (the downward CUSUM C− exceeded its "
        "decision interval h = 3: C+ − C− = −3.79, k = 0.5; n = 300); 1 month running "
        "(since 2025-08)."
    ]
    assert doc["methods"]["rule: cu"].startswith(
        "tabular CUSUM on standardized monthly deviations, k = 0.5, h = 3 (Montgomery 2013, "
        "9.1); no p-value: a month signals when C+ or C− exceeds h; threshold 3.0 (both)"
    )


def test_the_methods_text_follows_each_rules_method_and_settings(r1: Path, tmp_path: Path) -> None:
    """ "p adjusted by Holm" was given to the p-chart ("p" in "p-chart") and not to the volume
    rule; "h = 4" and "3-sigma" ignored the rules' thresholds."""
    rules = SPC_RULES + _rule("ew2", "ewma", "sensitivity", ["site"], 3.0, "params = {lam = 0.5}\n")
    rep, charts, ctx, doc = _report(r1, rules, tmp_path, month="2025-07")
    m = doc["methods"]
    tail = "min_n 30; alert after 1 month(s); window 1 month(s); by site"
    assert m["rule: pc"] == (
        "p-chart, 2-sigma limits from the reference proportion and each month's n (Montgomery "
        "2013, 7.2); no p-value: a month signals outside the limits; threshold 2.0 (both); " + tail
    )
    assert m["rule: cu"].startswith("tabular CUSUM on standardized monthly deviations, k = 0.5, "
                                    "h = 6.5 (Montgomery 2013, 9.1); no p-value")  # fmt: skip
    assert m["rule: ew"].startswith("EWMA on standardized monthly deviations, lambda = 0.2, "
                                    "L = 3, exact limits")  # fmt: skip
    assert m["rule: ew2"].startswith("EWMA on standardized monthly deviations, lambda = 0.5, "
                                     "L = 3, exact limits")  # fmt: skip
    assert m["rule: vol"] == (
        "exact conditional test of Poisson rates (Przyborowski & Wilenski 1940); p adjusted by "
        "Holm (1979) at alpha 0.01; threshold 0.5 (decrease); " + tail
    )
    assert [k for k, v in m.items() if "p adjusted" in v] == ["rule: vol"]


def test_a_rules_file_without_a_test_says_no_rule_has_a_p_value(r1: Path, tmp_path: Path) -> None:
    from reports._render import _environment

    rep, charts, ctx, doc = _report(r1, _rule("pc", "p_chart", "sensitivity", ["site"], 3.0),
                                    tmp_path, month="2025-07")  # fmt: skip
    assert ctx["corrections"] == ""
    html = _environment().get_template("monthly.html.j2").render(css="", svgs={}, **ctx)
    assert "no alert rule has a p-value." in html
    assert "alert p-values are adjusted" not in html


# ----------------------------------------------------------------------------- fault 9
def test_a_month_after_the_data_is_refused_in_one_line(
    r1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A QA tester: `--month 2027-03` on data ending 2025-09 gave "18 months running" alerts."""
    from radqa.cli import main

    out = tmp_path / "out"
    rc = main(["--data-dir", str(r1), "report", "monthly", "--month", "2027-03",
               "--out", str(out)])  # fmt: skip
    assert (rc, capsys.readouterr()) == (2, ("", (
        "radqa: error: month 2027-03 is after the snapshot's last study month 2025-09: its "
        "studies are dated 2025-01-01 to 2025-09-27; expected 2025-09 or an earlier month\n"
    )))  # fmt: skip
    assert not out.exists()


def test_the_reference_window_set_in_the_rules_file_is_the_reports(
    r1: Path, tmp_path: Path
) -> None:
    """A [reference] table in alert_rules.toml was read by the monitor's helpers but the report
    kept its first six months of data and did not say how the window was chosen."""
    from reports.monthly import load_report_settings

    data = tmp_path / "data"
    shutil.copytree(r1, data)
    (data / "alert_rules.toml").write_text(
        SITE_SENS + '\n[reference]\nfirst = "2025-03"\nlast = "2025-06"\n'
    )
    settings = load_report_settings(data)
    con = store.open_snapshot(data)
    try:
        rep = build_monthly_report(con, "2025-08", settings)
    finally:
        con.close()
    doc = json.loads(json.dumps(rep.to_json(), allow_nan=False))
    window = doc["settings"]["reference_window"]
    assert (window["first"], window["last"], window["chosen"]) == (
        "2025-03",
        "2025-06",
        "set in alert_rules.toml ([reference])",
    )
    # S1's sensitivity: 0.90 in every reference month, 0.70 in 2025-08 (n = 100)
    assert [(a["group"], round(a["value"], 6)) for a in doc["alerts"]] == [({"site": "S1"}, -0.2)]
    from reports._render import _environment

    html = _environment().get_template("monthly.html.j2").render(css="", svgs={}, **context(rep))
    assert "Reference window 2025-03..2025-06: set in alert_rules.toml ([reference])." in html
