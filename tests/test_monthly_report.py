"""The monthly drift report: files, contents, alerts from metrics.monitor, idempotence, privacy.

One small demo store is built per module (radqa.demo.run_demo, 8,000 studies over 24 months
ending 2026-10, with effects planted after the 6-month reference window) and the report for
2026-10 is written twice into two folders.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from metrics._filters import Filters
from metrics._grouped import summarize
from metrics._monitor import monitor
from metrics._periods import add_months, month_start
from radqa.errors import InputError, StoreError
from radqa.store import open_snapshot, snapshot_info
from reports._render import i2_ci, pct_ci
from reports.monthly import (
    ReportSettings,
    build_monthly_report,
    load_report_settings,
    write_monthly_report,
)

MONTH = "2026-10"
STUDIES = 8_000
SECTIONS = [
    "1. Summary",
    "2. Volume and operations",
    "3. Performance",
    "4. Input and output drift",
    "5. Agreement",
    "6. Pending reads and estimated performance",
    "7. Methods, versions and sign-off",
]
JSON_KEYS = [
    "report", "report_version", "month", "previous_month", "snapshot_id",
    "snapshot_published_at", "headline", "data_received", "settings", "alerts", "readings", "heterogeneity", "tables",
    "methods", "notes",
]  # fmt: skip
ALERT_KEYS = {"rule", "metric", "value", "threshold", "group", "first_period", "periods",
              "evidence"}  # fmt: skip
GROUP_KEYS = {"site", "scanner_manufacturer", "scanner_model", "scanner_software", "modality",
              "finding", "model_name", "model_version"}  # fmt: skip

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("chromium") is None,
    reason="needs poppler-utils (pdftotext, pdfinfo) and /usr/bin/chromium for kaleido",
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from radqa.demo import run_demo

    path = tmp_path_factory.mktemp("report-data")
    run_demo(path, studies=STUDIES, seed=7)
    return path


@pytest.fixture(scope="module")
def runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[list[Path]]:
    out = tmp_path_factory.mktemp("reports")
    return [write_monthly_report(data_dir, MONTH, out / f"run{i}") for i in (1, 2)]


@pytest.fixture(scope="module")
def doc(runs: list[list[Path]]) -> dict:
    return json.loads(runs[0][2].read_text())


@pytest.fixture(scope="module")
def html(runs: list[list[Path]]) -> str:
    return runs[0][0].read_text()


#: Months of the demo's new categories: ChestXR-Triage 2.2 at every site (2025-07), the Ysio
#: Max software upgrade at Osaka (2026-03), CT-Lung 3.1 (2026-04). A new category alerts for
#: its rule's alert_months (3) from its first alert, then is known: in 2026-10 none alerts.
SWITCH_MONTHS = ("2025-07", "2026-03", "2026-04")


@pytest.fixture(scope="module")
def switches(data_dir: Path) -> dict[str, dict]:
    """The JSON documents of the reports for :data:`SWITCH_MONTHS` (no HTML or PDF)."""
    settings = load_report_settings(data_dir)
    con = open_snapshot(data_dir)
    try:
        return {m: json.loads(json.dumps(build_monthly_report(con, m, settings).to_json()))
                for m in SWITCH_MONTHS}  # fmt: skip
    finally:
        con.close()


def _pdftext(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip


def _pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))  # type: ignore[union-attr]


def test_three_files_named_by_month(runs: list[list[Path]]) -> None:
    names = [p.name for p in runs[0]]
    assert names == [f"drift-report-{MONTH}.{e}" for e in ("html", "pdf", "json")]
    assert all(p.stat().st_size > 0 for p in runs[0])


def test_html_is_self_contained_and_small(html: str, runs: list[list[Path]]) -> None:
    assert runs[0][0].stat().st_size < 3_000_000
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)""", html, re.I)
    assert [r for r in refs if "http" in r or "//" in r] == []
    for banned in ("<script", "<link", "<img", "@import", "url(http", "@font-face"):
        assert banned not in html.lower()
    assert html.count("<svg") >= 4  # volume, trend, forest plots, p-chart at least


def test_every_section_heading(html: str, runs: list[list[Path]]) -> None:
    text = _pdftext(runs[0][1])
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in html
        assert heading in text


def test_json_keys_settings_and_snapshot(doc: dict, data_dir: Path, html: str) -> None:
    assert list(doc) == JSON_KEYS
    assert doc["month"] == MONTH and doc["previous_month"] == "2026-09"
    assert doc["headline"] is None
    assert doc["data_received"]["month"] == MONTH and doc["data_received"]["predictions"] > 0
    con = open_snapshot(data_dir)
    info = snapshot_info(con)
    con.close()
    assert info is not None and doc["snapshot_id"] == info.snapshot_id
    assert doc["snapshot_published_at"] == info.published_at.isoformat()
    assert info.snapshot_id in html
    s = doc["settings"]
    assert s["reference_window"] | {"label": None} == {
        "first": "2024-11", "last": "2025-04", "model_version": None, "label": None,
        "chosen": "automatic: the first 6 months from the first month holding at least 10% of "
                  "the median month's AI predictions (no [reference] in alert_rules.toml)",
        "note": None,
    }  # fmt: skip
    assert (s["alpha"], s["min_n"]) == (0.05, 30)
    assert s["multiplicity"]["methods"] == ["holm"]
    rules = load_report_settings(data_dir).rules
    assert [r["name"] for r in s["rules"]] == [r.name for r in rules]
    assert s["rules_source"] == "built-in default rules (no alert_rules.toml in the data dir)"
    assert set(doc["tables"]) >= {"performance_site", "performance_scanner", "drift_checks",
                                  "new_categories", "pending_by_week", "model_versions"}  # fmt: skip


def test_alerts_are_monitors_alerts(doc: dict, data_dir: Path) -> None:
    settings = load_report_settings(data_dir)
    con = open_snapshot(data_dir)
    result = monitor(con, month=MONTH, reference=settings.reference, rules=list(settings.rules))
    con.close()
    expected = json.loads(json.dumps(result.alerts_as_dicts()))
    assert doc["alerts"] == expected
    assert len(doc["readings"]) == len(doc["alerts"])


SITES = ("Busan Community Hospital", "Kobe Community Hospital", "Osaka University Hospital",
         "Seoul National University Hospital", "Tokyo Medical Center")  # fmt: skip


def test_a_new_model_version_alerts_in_its_first_months_then_is_known(
    doc: dict, data_dir: Path, switches: dict[str, dict]
) -> None:
    """The demo's ChestXR-Triage 2.2 (from 2025-07, every site; the reference is
    2024-11..2025-04) alerts in 2025-07..09 (alert_months = 3) and not after: in 2026-10 it
    alerted 16 months running at every site (10 of the month's alerts were such stale new
    versions, scanners and software), and the test pinned it. It is listed as known."""
    chest = {"model_name": "ChestXR-Triage", "model_version": "2.2"}
    settings = load_report_settings(data_dir)
    con = open_snapshot(data_dir)
    try:
        by_month = {
            m: [(a.group["site"], a.first_period, a.periods)
                for a in monitor(con, month=m, reference=settings.reference,
                                 rules=list(settings.rules)).alerts
                if a.rule == "new model version" and a.group.items() >= chest.items()]
            for m in ("2025-07", "2025-09", "2025-10")
        }  # fmt: skip
    finally:
        con.close()
    assert by_month == {"2025-07": [(s, "2025-07", 1) for s in SITES],
                        "2025-09": [(s, "2025-07", 3) for s in SITES], "2025-10": []}  # fmt: skip
    july = switches["2025-07"]["alerts"]
    assert [(a["group"], a["first_period"], a["periods"]) for a in july] == [
        ({"site": site, **chest}, "2025-07", 1) for site in SITES
    ]
    for report in (doc, *switches.values()):
        for alert in report["alerts"]:
            assert set(alert) == ALERT_KEYS
            assert set(alert["group"]) <= GROUP_KEYS | {alert["metric"]}
    assert [a for a in doc["alerts"] if a["rule"].startswith("new ")] == []
    rows = [(r["site"], r["status"], r["periods"], r["first_alert"], r["alert_until"], r["known"])
            for r in doc["tables"]["new_categories"]
            if r["model_name"] == "ChestXR-Triage"]  # fmt: skip
    assert rows == [(site, "drift", 16, "2025-07", "2025-09", True) for site in SITES]
    note = next(n for n in doc["notes"] if n.startswith("Known, no longer alerting"))
    assert note.startswith("Known, no longer alerting (each alerted for 3 months from its first "
                           "alert; section 4 lists them): AI model version ChestXR-Triage 2.2 "
                           "at 5 sites (in use since 2025-07); ")  # fmt: skip
    assert note.endswith("To monitor one against its own baseline, set a [reference] window in "
                         "alert_rules.toml that contains months of it.")  # fmt: skip


def test_a_new_model_version_is_read_as_one_naming_the_model(
    switches: dict[str, dict], html: str
) -> None:
    july = switches["2025-07"]
    readings = [r for a, r in zip(july["alerts"], july["readings"], strict=True)
                if a["rule"] == "new model version" and a["group"]["model_name"] == "ChestXR-Triage"]  # fmt: skip
    assert len(readings) == 5
    for reading in readings:
        assert reading.startswith("New model version ChestXR-Triage 2.2 at "), reading
        assert "(n = " in reading and reading.endswith("."), reading
    assert "AI model version ChestXR-Triage 2.2 at 5 sites (in use since 2025-07)" in html
    # listed after the month's other alerts (CT-Lung 3.1 after the new scanner and software)
    rules = [a["rule"] for a in switches["2026-04"]["alerts"]]
    first = rules.index("new model version")
    assert first > 0 and set(rules[first:]) == {"new model version"}


def test_planted_software_upgrade_is_an_alert_with_a_reading(
    doc: dict, data_dir: Path, switches: dict[str, dict], html: str
) -> None:
    """The upgrade alerts in its month; in 2026-10 it alerted 8 months running (the test
    pinned it), now it is a known row of the new-categories table."""
    effects = json.loads((data_dir / "demo" / "effects.json").read_text())["effects"]
    upgrade = next(e for e in effects if e["kind"] == "scanner_software_upgrade")
    group = upgrade["group"]
    assert upgrade["start"] == "2026-03"
    then = switches[upgrade["start"]]
    hits = [a for a in then["alerts"] if a["rule"] == "new scanner software version"
            and a["group"] == group]  # fmt: skip
    assert len(hits) == 1
    alert = hits[0]
    assert alert["first_period"] == upgrade["start"]
    assert alert["periods"] == 1
    reading = then["readings"][then["alerts"].index(alert)]
    assert reading.startswith(f"New software version {group['scanner_software']} at "
                              f"{group['site']} on the {group['scanner_model']}")  # fmt: skip
    assert f"first seen there in {upgrade['start']} (1 month ago, this one included)" in reading
    assert [a for a in doc["alerts"] if a["group"] == group] == []
    (row,) = [r for r in doc["tables"]["new_categories"]
              if r["rule"] == "new scanner software version" and r["site"] == group["site"]
              and r["category"] == group["scanner_software"]]  # fmt: skip
    known = (row["periods"], row["first_alert"], row["alert_until"], row["known"])
    assert known == (8, "2026-03", "2026-05", True)  # in use 2026-03 .. 2026-10
    assert (f"scanner software {group['scanner_software']} on the {group['scanner_model']} at "
            f"{group['site']} (in use since 2026-03)") in html  # fmt: skip


def test_performance_numbers_are_summarize_numbers(doc: dict, data_dir: Path) -> None:
    con = open_snapshot(data_dir)
    month = Filters(date_from=month_start(MONTH), date_to=pd.Timestamp("2026-10-31").date())
    direct = summarize(con, by=("site", "finding", "model_name"), filters=month)
    con.close()
    table = pd.DataFrame(doc["tables"]["performance_site"])
    merged = table.merge(direct, on=["site", "finding", "model_name"], suffixes=("", "_direct"))
    assert len(merged) == len(direct) == len(table) > 0
    for col in ("n", "tp", "fp", "fn", "tn", "n_labelled"):
        assert (merged[col] == merged[f"{col}_direct"]).all()
    both = merged["sensitivity"].notna()
    assert both.any()
    assert (merged.loc[both, "sensitivity"] - merged.loc[both, "sensitivity_direct"]).abs().max() \
        < 1e-12  # fmt: skip
    assert merged["sensitivity_direct"].isna().eq(~both).all()


def test_idempotent(runs: list[list[Path]]) -> None:
    first, second = runs
    assert first[0].read_bytes() == second[0].read_bytes()  # HTML
    assert first[2].read_bytes() == second[2].read_bytes()  # JSON
    assert _pdftext(first[1]) == _pdftext(second[1])


def test_pdf_pages_numbered(runs: list[list[Path]]) -> None:
    pdf = runs[0][1]
    n = _pages(pdf)
    assert n >= len([s for s in SECTIONS if not s.startswith(("1.", "6."))]) + 1
    text = _pdftext(pdf)
    for page in (1, n):
        assert f"page {page} of {n}" in text
    assert text.count(" of " + str(n)) >= n


def test_no_raw_identifiers(runs: list[list[Path]], data_dir: Path) -> None:
    demo = data_dir / "demo"
    preds = pd.read_parquet(demo / f"predictions-{MONTH}.parquet")
    reads = pd.read_csv(demo / f"reads-{MONTH}.csv")
    raw = set(preds["patient_id"].astype(str)) | set(reads["reader_id"].astype(str))
    assert raw
    texts = [runs[0][0].read_text(), runs[0][2].read_text(), _pdftext(runs[0][1])]
    for text in texts:
        tokens = set(re.findall(r"[A-Za-z0-9.\-]+", text))
        assert tokens.isdisjoint(raw)
        assert re.search(r"\bP\d{9}\b", text) is None  # demo patient ids
        assert re.search(r"\bRAD-[A-Z]+-\d{3}\b", text) is None  # demo reader ids
        assert tokens.isdisjoint(set(preds["study_uid"]))


def test_month_inside_reference_is_refused(data_dir: Path) -> None:
    con = open_snapshot(data_dir)
    try:
        with pytest.raises(InputError) as err:
            build_monthly_report(con, "2025-02", ReportSettings())
    finally:
        con.close()
    assert str(err.value) == (
        "month 2025-02 is inside or before the reference window 2024-11..2025-04; "
        "expected a month after it"
    )


def test_a_month_after_the_data_is_refused(data_dir: Path, tmp_path: Path) -> None:
    """The demo ends in 2026-10: a report for 2026-12 would count 2026-11 as a month without
    studies ("2 months running"), and for 2027-03 invent five (a QA tester's fault 9)."""
    for month in ("2026-11", "2026-12", "2027-03"):
        with pytest.raises(InputError) as err:
            write_monthly_report(data_dir, month, tmp_path / "out")
        assert str(err.value) == (
            f"month {month} is after the snapshot's last study month 2026-10: its studies are "
            "dated 2024-11-01 to 2026-10-31; expected 2026-10 or an earlier month"
        )
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def gap(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's predictions of 2024-11..2025-06 and 2025-08: no study at all in 2025-07."""
    from ingest.load import ingest_files

    path = tmp_path_factory.mktemp("gap")
    files = sorted((data_dir / "demo").glob("predictions-202*.parquet"))
    files = [f for f in files if f.stem[-7:] <= "2025-08" and f.stem[-7:] != "2025-07"]
    assert [f.stem[-7:] for f in files[-3:]] == ["2025-05", "2025-06", "2025-08"]
    ingest_files(path, "predictions", files, publish="end")
    return path


def test_a_month_without_data_says_so_and_names_the_sites_that_stopped(
    gap: Path, tmp_path: Path
) -> None:
    """2025-07 has no data, which the report opens with; every site whose reference monthly
    mean reaches the volume rules' min_n (50) alerts as having stopped."""
    html_path, _, json_path = write_monthly_report(gap, "2025-07", tmp_path)
    doc = json.loads(json_path.read_text())
    headline = (
        "No studies were received for 2025-07: the snapshot has no AI prediction for a study "
        "dated in that month; the snapshot's studies are dated 2024-11-01 to 2025-08-31. "
        "Nothing in this report describes how the AI performed in 2025-07. Check that every "
        "site's feed and the ingest ran."
    )
    assert doc["headline"] == headline
    assert doc["data_received"] | {"reads": None} == {
        "month": "2025-07", "studies": 0, "predictions": 0, "first_study": "2024-11-01",
        "last_study": "2025-08-31", "labelled": 0, "ai_assisted_reference": 0, "reads": None,
    }  # fmt: skip
    # no studies at all: not "every study of 2025-07 has its reads" (the reviewer's 2030-01)
    assert (
        "Estimated performance (CBPE): there are no studies with an AI prediction for 2025-07; "
        "nothing to estimate."
    ) in doc["notes"]
    assert not any("has its reads" in n for n in doc["notes"])
    alerts = [
        (a["rule"], a["group"], a["value"], a["evidence"]["n"], a["first_period"], a["periods"])
        for a in doc["alerts"]
    ]
    assert alerts == [
        ("volume drop (site)", {"site": site}, -1.0, 0, "2025-07", 1)
        for site in ("Osaka University Hospital", "Seoul National University Hospital",
                     "Tokyo Medical Center")
    ]  # fmt: skip
    assert doc["readings"][0] == (
        "Study volume at Osaka University Hospital fell by 100% against the reference monthly "
        "mean (95 to 0); 1 month running (since 2025-07)."
    )
    html = html_path.read_text()
    assert f'<p class="nodata">{headline}</p>' in html.replace("&#39;", "'")
    assert "No alert this month" not in html
    rows = _table_rows(html, "Studies by site, 2025-07")
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("Busan Community Hospital", "0", "insufficient data"),
        ("Kobe Community Hospital", "0", "insufficient data"),
        ("Osaka University Hospital", "0", "drift"),
        ("Seoul National University Hospital", "0", "drift"),
        ("Tokyo Medical Center", "0", "drift"),
    ]


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}  # fmt: skip


def test_the_report_reads_the_data_dir_and_writes_nothing_there(
    data_dir: Path, runs: list[list[Path]], tmp_path: Path
) -> None:
    """No alert_rules.toml, no result cache: the built-in default rules apply."""
    before = _listing(data_dir)
    assert "alert_rules.toml" not in before
    write_monthly_report(data_dir, MONTH, tmp_path / "out")
    assert _listing(data_dir) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "drift-report-2026-10.html", "drift-report-2026-10.json", "drift-report-2026-10.pdf",
    ]  # fmt: skip


def test_a_data_dir_without_snapshot_is_refused_and_not_created(tmp_path: Path) -> None:
    typo = tmp_path / "dat"
    with pytest.raises(StoreError) as err:
        write_monthly_report(typo, MONTH, tmp_path / "out")
    assert str(err.value) == (
        f"no published snapshot at {typo / 'radqa.duckdb'}; load data first "
        "(`radqa demo` or `radqa ingest predictions FILE`)"
    )
    assert sorted(tmp_path.iterdir()) == []


def test_the_data_dirs_own_rules_file_is_used(tmp_path: Path) -> None:
    (tmp_path / "alert_rules.toml").write_text(
        '[[rule]]\nname = "stopped"\nmethod = "poisson"\nmetric = "volume"\n'
        'group_by = ["site"]\ndirection = "decrease"\nthreshold = 0.9\n'
    )
    settings = load_report_settings(tmp_path)
    assert [r.name for r in settings.rules] == ["stopped"]
    assert settings.rules_source == "alert_rules.toml"


def _table_rows(html: str, title: str) -> list[list[str]]:
    """The body rows (cell texts) of the HTML table under the <h3> ``title``."""
    start = html.index(f"<h3>{title}</h3>")
    body = html[start : html.index("</table>", start)]
    body = body[body.index("<tbody>") :]
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_pdf_draws_every_chart_of_the_html(html: str, runs: list[list[Path]]) -> None:
    titles = [re.sub(r"<[^>]+>", "", t) for t in re.findall(
        r'<text class="gtitle"[^>]*>(.*?)</text>', html)]  # fmt: skip
    assert len(titles) == html.count("<svg") >= 4
    text = " ".join(_pdftext(runs[0][1]).split())
    for title in titles:  # chart titles are SVG text, drawn as text into the PDF
        assert " ".join(title.replace("&amp;", "&").split()) in text


def test_discordant_table_most_false_negatives_first(doc: dict, html: str) -> None:
    site = pd.DataFrame(doc["tables"]["performance_site"])
    groups = site[(site["fn"] > 0) | (site["fp"] > 0)]
    rows = _table_rows(html, "Discordant cases to review (AI vs reference standard)")
    assert len(rows) == min(len(groups), 20) > 0
    fn = [int(r[3].replace(",", "")) for r in rows]
    assert fn == sorted(fn, reverse=True)
    assert fn[0] == int(groups["fn"].max())
    more = f"; {len(groups) - 20} more in the JSON (tables.performance_site) and on the dashboard"
    assert (more in html) == (len(groups) > 20)


def test_heterogeneity_one_row_per_finding_and_dimension(doc: dict, html: str) -> None:
    het = pd.DataFrame(doc["heterogeneity"])
    het = het[het["k"] >= 2]
    rows = _table_rows(html, "Heterogeneity across sites and scanners, this month")
    assert len(rows) == len(het.groupby(["finding", "model_name", "dimension"])) > 0
    sens = het[het["metric"] == "sensitivity"].set_index(["finding", "dimension"])
    for row in rows:
        if (row[0], row[1]) not in sens.index:  # sensitivity not estimable in 2+ groups
            assert row[2:4] == ["–", "–"]
            continue
        h = sens.loc[(row[0], row[1])]
        assert row[2] == str(h["k"])
        assert row[3] == i2_ci(h["i2"], h["i2_low"], h["i2_high"])
        # the forest plot's title formats the interval as the table does ('0%–99.7%')
        title = f"Sensitivity by {row[1]}: I² = {row[3]}"
        if pd.notna(h["i2_low"]):
            assert title in html
    # tau² with its Q-profile interval (REML point estimate) and the note are in the JSON
    two = het[het["k"] >= 2]
    assert {"i2_note", "tau2", "tau2_low", "tau2_high"} <= set(two.columns)
    assert (two["tau2"] == two["tau2_reml"]).all()
    bounds = two["tau2_low"].notna()
    assert bounds.any() and (two.loc[bounds, "tau2_low"] <= two.loc[bounds, "tau2_high"]).all()
    assert all("Q-profile interval is empty" in n for n in two.loc[~bounds, "i2_note"])
    assert pct_ci(0.7612, 0.4249, 0.9) == "76% (42%–90%)"
    assert pct_ci(0.0, float("nan"), None) == "0%"
    assert pct_ci(None, 0.1, 0.2) == "–"
    assert i2_ci(0.0, float("nan"), None) == "0% (no CI: Q-profile interval empty)"
    assert i2_ci(0.0, 0.0, 0.997104265053) == "0% (0%–99.7%)"


def test_estimates_and_reader_tables_show_formatted_columns(doc: dict, html: str) -> None:
    est = doc["tables"].get("estimated_performance", [])
    if est:
        rows = _table_rows(html, "Estimated performance (ESTIMATES, not yet confirmed by reads)")
        assert len(rows) == len(est)
        i, e = next((i, e) for i, e in enumerate(est) if e["specificity_low"] is not None)
        assert rows[i][:5] == [e["site"], e["finding"], f"{e['model_name']} {e['model_version']}",
                               f"{int(e['n_pending']):,}", f"{int(e['n']):,}"]  # fmt: skip
        # a proportion in %, as the pages and the readings give it
        assert rows[i][6] == (f"{100 * e['specificity']:.1f}% ({100 * e['specificity_low']:.1f}–"
                              f"{100 * e['specificity_high']:.1f}%)")  # fmt: skip
        for row, e in zip(rows, est, strict=True):  # never a zero-width interval
            for col, name in ((5, "sensitivity"), (6, "specificity")):
                if e[name] is None:
                    assert row[col] == "–" and name in e["not_estimable"]
                else:
                    assert e[f"{name}_low"] < e[f"{name}_high"]
    readers = doc["tables"]["reader_agreement"]
    rows = _table_rows(html, "Reader vs reader, studies read by more than one radiologist")
    assert [r[0] for r in rows] == [r["finding"] for r in readers]
    assert all(len(r) == 7 for r in rows)


def test_pdf_loads_nothing_but_its_own_charts() -> None:
    from concurrent.futures import Future

    from reports._render import _chart_fetcher

    charts: list[Future[str]] = [Future(), Future()]
    charts[1].set_result('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="1"/>')
    fetcher = _chart_fetcher(charts)
    assert fetcher.fetch("chart:1").read() == charts[1].result().encode()
    for url in ("http://example.org/logo.png", "file:///etc/passwd", "chart:2"):
        with pytest.raises(ValueError) as err:
            fetcher.fetch(url)
        assert str(err.value) == (
            f"the report must not load external resources; it asked for {url!r}; expected "
            "chart:0 .. chart:1"
        )


def test_a_chart_that_failed_raises_its_own_error() -> None:
    from concurrent.futures import Future

    from reports._render import _chart_fetcher, _pdf_document

    failed: Future[str] = Future()
    failed.set_exception(RuntimeError("kaleido: Chromium could not be started"))
    with pytest.raises(RuntimeError, match="^kaleido: Chromium could not be started$"):
        _pdf_document('<p>x</p><img src="chart:0">', _chart_fetcher([failed]))
    with pytest.raises(ValueError, match="it asked for 'https://cdn.example.org/x.svg'"):
        _pdf_document('<img src="https://cdn.example.org/x.svg">', _chart_fetcher([failed]))


def test_no_estimate_is_shown_with_a_zero_width_interval_or_too_few_cases(
    doc: dict, html: str
) -> None:
    # the reviewer found "AUC 1.00 (1.00-1.00)" from 1 positive case and sensitivities from 1
    tables = doc["tables"]
    seen = 0
    for name in ("performance_site", "performance_scanner", "performance_modality",
                 "performance_finding"):  # fmt: skip
        for r in tables[name]:
            pos, neg = r["tp"] + r["fn"], r["fp"] + r["tn"]
            for est, enough in (
                ("sensitivity", pos >= 5),
                ("specificity", neg >= 5),
                ("auc", pos >= 5 and neg >= 5),
                ("kappa", pos >= 5 and neg >= 5),
            ):
                if r[est] is not None:
                    seen += 1
                    assert enough, (name, r, est)
                    assert r[f"{est}_low"] < r[f"{est}_high"], (name, r, est)
                elif not r["insufficient"] and enough is False:
                    assert (
                        f"{est}: {pos if est != 'specificity' else neg} reference-"
                        in r["not_estimable"]
                    )
    assert seen > 20
    for r in tables["reader_agreement"]:
        if r["kappa"] is not None:
            assert r["kappa_low"] < r["kappa_high"]
    assert "1.00 (1.00–1.00)" not in html and "0.00 (0.00–0.00)" not in html
    assert (
        "A dash: not estimable. Every estimate needs 30 labelled cases; sensitivity also 5" in html
    )


def test_the_share_of_ai_assisted_reference_labels_is_reported(
    doc: dict, data_dir: Path, html: str
) -> None:
    con = open_snapshot(data_dir)
    labelled, assisted = con.execute(
        """
        select count(r.ref_label), count(*) filter (where r.any_ai_assisted)
        from predictions p join studies s using (study_uid)
        left join reference_standard r using (study_uid, finding)
        where s.study_datetime >= '2026-10-01' and s.study_datetime < '2026-11-01'
        """
    ).fetchone()
    con.close()
    assert 0 < assisted < labelled
    got = doc["data_received"]
    assert (got["labelled"], got["ai_assisted_reference"]) == (labelled, assisted)
    note = (
        f"Reference standard: {assisted:,} of the {labelled:,} labelled AI predictions of "
        f"2026-10 ({assisted / labelled:.1%}) have a reference that includes a read made with "
        "the AI's output in view (ai_assisted)."
    )
    assert doc["notes"][0].startswith(note) and "incorporation bias" in doc["notes"][0]
    assert note.replace("'", "&#39;") in html


@pytest.fixture(scope="module")
def predictions_only(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's predictions of 2024-11..2025-06 without any read or DICOM header."""
    from ingest.load import ingest_files

    path = tmp_path_factory.mktemp("predictions-only")
    files = sorted((data_dir / "demo").glob("predictions-202*.parquet"))[:8]
    assert files[-1].name == "predictions-2025-06.parquet"
    ingest_files(path, "predictions", files, publish="end")
    return path


def test_predictions_without_reads_say_so_and_count_pending(predictions_only: Path) -> None:
    con = open_snapshot(predictions_only)
    try:
        rep = build_monthly_report(con, "2025-06")
        n = con.execute(
            "select count(*) from predictions p join studies s using (study_uid) "
            "where s.study_datetime >= '2025-06-01' and s.study_datetime < '2025-07-01'"
        ).fetchone()[0]
    finally:
        con.close()
    assert n > 0
    assert rep.headline == (
        f"No radiologist reads: the snapshot holds no clinical read for any month, so none of "
        f"the {n:,} AI predictions of 2025-06 has a reference standard. The AI's accuracy "
        "(sensitivity, specificity, AUC, agreement with the radiologists) cannot be measured, "
        "and estimated performance cannot be calibrated; this report shows volumes, AI positive "
        "rates and score distributions only. Check that the reads (RIS export) are ingested."
    )
    est = rep.tables["estimated_performance"]
    assert int(est["n_pending"].sum()) == n  # every prediction is pending ...
    assert int(est["n"].sum()) == 0 and int(est["n_uncalibrated"].sum()) == n  # ... none estimated
    assert (est["n_pending"] > 0).all()
    assert any(f"none of the {n:,} pending predictions of 2025-06 could be estimated" in x
               for x in rep.notes)  # fmt: skip
    from reports._render import context

    table = next(t for t in context(rep)["pending"] if t["title"].startswith("Estimated"))
    assert table["header"][2:5] == ["AI model", "Pending", "Estimated"]
    assert [r[3] for r in table["rows"]] == [f"{int(k):,}" for k in est["n_pending"]]
    assert rep.settings_dict()["min_n"] == 30 and rep.data_received["reads"] == 0


def test_json_floats_are_rounded_so_parallel_sums_give_the_same_bytes(doc: dict) -> None:
    from reports.monthly import JSON_DIGITS, records

    # the reviewer's tables.estimated_performance[0].tn of two runs of the same snapshot
    runs = [pd.DataFrame({"tn": [v], "n": [9]}) for v in (7.59641612742658, 7.596416127426581)]
    first, second = (json.dumps(records(df)) for df in runs)
    assert first == second == '[{"tn": 7.59641612743, "n": 9}]'
    assert JSON_DIGITS == 12

    def floats(x: object) -> list[float]:
        if isinstance(x, dict):
            return [f for v in x.values() for f in floats(v)]
        if isinstance(x, list):
            return [f for v in x for f in floats(v)]
        return [x] if isinstance(x, float) else []

    values = floats(doc)
    assert len(values) > 1000
    assert all(v == float(f"{v:.12g}") for v in values)


def test_known_values_are_counted_apart_from_drift(doc: dict, html: str) -> None:
    """A new value past its rule's alert_months drifts against the reference but raises no
    alert: the checks table counts it as known, and the drifting groups do not list it again
    (the new-categories table does, with its words)."""
    checks = {r["rule"]: r for r in doc["tables"]["drift_checks"]}
    known = {r["rule"] for r in doc["tables"]["new_categories"] if r["known"]}
    assert "new model version" in known
    for rule in known:
        listed = sum(r["known"] for r in doc["tables"]["new_categories"] if r["rule"] == rule)
        assert checks[rule]["known"] == listed > 0
    drifting = {r["rule"] for r in doc["tables"]["drift_findings"]}
    assert not drifting & known, drifting & known
    assert "Known, no alert" in html
    assert all(r["known"] == 0 for n, r in checks.items() if n not in known)


def test_summary_names_the_checks_that_could_not_run(doc: dict, html: str) -> None:
    checks = {r["rule"]: r for r in doc["tables"]["drift_checks"]}
    psi = checks["score distribution shift (PSI)"]
    assert psi["ok"] == psi["drift"] == 0 and psi["insufficient data"] > 0  # 8,000 studies
    n = psi["insufficient data"]
    note = next(x for x in doc["notes"] if x.startswith("Checks that could not run"))
    assert f"'score distribution shift (PSI)' ({n} of {n} groups below min_n = 100 rows)" in note
    assert note.endswith(
        "A group below a rule's min_n is neither ok nor drifting: a shift there goes unseen."
    )
    assert "Checks that could not run for lack of data this month" in html
    assert "AI positive rate change (all findings)" in checks  # the pooled default rule


def test_forest_caption_counts_each_panel_once() -> None:
    from reports._charts import forest_positives

    # the reviewer's case: 13 positives in the site groups, the same 13 in the scanner groups
    part = pd.DataFrame({
        "dimension": ["site", "site", "scanner", "scanner", "site"],
        "metric": ["sensitivity", "sensitivity", "sensitivity", "sensitivity", "specificity"],
        "nobs": [6, 7, 10, 3, 80],
    })  # fmt: skip
    assert forest_positives(part) == (
        "n = reference-positive cases: 13 in the site groups shown, 13 in the scanner groups shown"
    )


def test_a_ci_ribbon_is_drawn_per_run_of_months_with_an_estimate() -> None:
    """A reviewer saw the intracranial_haemorrhage band drawn as a false triangle across a month
    with no estimate: one filled trace pair ran through the gap."""
    import pandas as pd

    from reports._charts import _runs

    months = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    part = pd.DataFrame({"period": months, "sensitivity_low": [0.5, 0.6, None, None, 0.4, 0.5]})
    runs = _runs(part, "sensitivity_low")
    assert [list(r["period"]) for r in runs] == [months[:2], months[4:]]
    assert _runs(part.assign(sensitivity_low=None), "sensitivity_low") == []


def test_p_values_read_as_a_clinician_reads_them() -> None:
    from reports._render import pval

    assert [pval(x) for x in (7.4e-40, 9.9e-5, 1e-4, 0.0035, 0.154, None, float("nan"))] == [
        "< 0.0001", "< 0.0001", "0.0001", "0.0035", "0.15", "–", "–",
    ]  # fmt: skip


def test_model_versions_the_reference_window_did_not_have_are_named(doc: dict) -> None:
    """A reviewer: ChestXR-Triage 2.2 (from 2025-07) and CT-Lung 3.1 (from 2026-04) were compared
    with the 2.1 and 3.0 reference window without a word."""
    [note] = [n for n in doc["notes"] if n.startswith("Model versions in use in")]
    assert note.startswith(
        f"Model versions in use in {MONTH} that the reference window (2024-11..2025-04) did not "
        "have: "
    )
    versions = pd.DataFrame(doc["tables"]["model_versions"])
    new = versions[(versions["first_month"] > "2025-04") & (versions["last_month"] >= MONTH)]
    assert len(new) >= 2
    for r in new.itertuples():
        assert f"{r.model_name} {r.model_version} (in use since {r.first_month})" in note


def test_partial_iso_weeks_at_the_window_ends_are_marked(doc: dict, html: str) -> None:
    """A reviewer read 2026-W36 and W44 as whole weeks: the window starts on a Tuesday and ends
    on a Saturday."""
    weeks = doc["tables"]["pending_by_week"]
    first, last = weeks[0], weeks[-1]
    assert (first["period"], first["days"], first["partial"]) == ("2026-W36", "Sep 1–Sep 6", True)
    assert (last["period"], last["days"], last["partial"]) == ("2026-W44", "Oct 26–Oct 31", True)
    assert all(not w["partial"] for w in weeks[1:-1])
    assert "Sep 1–Sep 6 (partial week)" in html


def test_a_full_disk_leaves_the_earlier_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the JSON was written left the new HTML and PDF beside the old JSON, a
    partial temporary file, and an error naming no file (a QA tester)."""
    import errno

    from reports.monthly import _write_together

    paths = [tmp_path / f"drift-report-2026-10.{ext}" for ext in ("html", "pdf", "json")]
    for path in paths:
        path.write_bytes(b"earlier " + path.suffix.encode())
    real = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        if ".json." in self.name:
            real(self, data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError) as err:
        _write_together({path: b"new " + path.suffix.encode() for path in paths})
    monkeypatch.undo()
    assert (err.value.errno, err.value.filename) == (errno.ENOSPC, str(paths[2]))
    assert [p.read_bytes() for p in paths] == [b"earlier .html", b"earlier .pdf", b"earlier .json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    _write_together({path: b"new " + path.suffix.encode() for path in paths})
    assert [p.read_bytes() for p in paths] == [b"new .html", b"new .pdf", b"new .json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_new_categories_table_in_words_with_reasons(doc: dict, html: str) -> None:
    new = doc["tables"]["new_categories"]
    rows = _table_rows(html, "New scanners, software and AI model versions (never seen in the "
                             "reference)")  # fmt: skip
    assert len(rows) == len(new) > 0
    words = {"model_version": "AI model version", "scanner_model": "scanner model",
             "scanner_software": "scanner software version"}  # fmt: skip
    for row, r in zip(rows, new, strict=True):
        assert row[0] == words[r["metric"]]
        if r["status"] == "insufficient data":  # not judged: why, never a bare month count
            assert row[-1].startswith("not judged: ") and len(row[-1]) > 40, row
        elif r["known"]:  # alerted for its rule's alert_months: when, and since when in use
            since = add_months(r["month"], -(r["periods"] - 1))
            assert row[-1] == (f"{r['periods']} (in use since {since}; alerted "
                               f"{r['first_alert']} to {r['alert_until']} (alert_months = 3), "
                               "then known)"), row  # fmt: skip
        else:
            assert row[-1] == str(r["periods"])
    assert {r["status"] for r in new} >= {"insufficient data"}, "the demo has a row not judged"
    assert any(r["known"] for r in new), "the demo has a new category alerting no longer"
