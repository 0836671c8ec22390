"""Every dashboard page on the demo snapshot: no exception, and the values shown are metrics'."""

from __future__ import annotations

import base64
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest

import metrics
from dashboard import _audit, _charts, _reviews
from ingest.load import ingest_files
from metrics import Filters, discordant_cases, heterogeneity_across, overview_counts, summarize
from radqa import store

from .conftest import charts, kpi_tiles, open_tab, tile_groups

KPIS = ("sensitivity", "specificity", "ppv", "npv", "auc", "kappa")


def array(value: object) -> list[float]:
    """A plotly data array: a list, or numpy bytes as {"dtype", "bdata"} (plotly 6+)."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)  # type: ignore[arg-type]


def query_list(at, key: str) -> list[str]:  # noqa: ANN001
    value = at.query_params[key]
    return list(value) if isinstance(value, list | tuple) else [value]


def first_pair(con) -> tuple[str, str]:  # noqa: ANN001
    s = summarize(con, by=("model_name", "finding"))
    row = s.sort_values(["model_name", "finding"]).iloc[0]
    return str(row["model_name"]), str(row["finding"])


def test_overview_tiles_equal_summarize(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir)
    assert not at.exception
    expected = summarize(con, by=("model_name", "finding"))
    tiles = kpi_tiles(at)
    assert len(tiles) == len(KPIS) * len(expected) == 60
    assert [t[0] for t in tiles[:6]] == ["Sensitivity", "Specificity", "PPV", "NPV", "AUC", "Kappa"]
    shown = [t[1] for t in tiles]
    wanted = [_charts.fmt(row[k], k) for _, row in expected.iterrows() for k in KPIS]
    assert shown == wanted
    assert tile_groups(at) == [f"{r.model_name} · {r.finding}" for r in expected.itertuples()]
    # the claims tab is open first: no chart; the trend tab draws one, months on a category axis
    assert not at.get("plotly_chart")
    [spec] = charts(open_tab(at, "ov_tab", "Trend"))
    assert spec["layout"]["xaxis"]["type"] == "category"
    assert "labelled n =" in spec["layout"]["title"]["text"]


def test_overview_filter_from_url_changes_kpis(app, demo_dir, con) -> None:  # noqa: ANN001
    sites = sorted(summarize(con, by=("site",))["site"])
    at = app(demo_dir, query={"site": sites[0]})
    assert not at.exception
    assert at.sidebar.multiselect(key="f_site").value == [sites[0]]
    expected = summarize(con, by=("model_name", "finding"), filters=Filters(site=(sites[0],)))
    first = expected.iloc[0]
    assert kpi_tiles(at)[0] == ("Sensitivity", _charts.fmt(first["sensitivity"], "sensitivity"))
    assert query_list(at, "site") == [sites[0]]
    # change the filter in the sidebar: the URL and the tiles follow
    at.sidebar.multiselect(key="f_site").set_value([sites[1]]).run()
    expected = summarize(con, by=("model_name", "finding"), filters=Filters(site=(sites[1],)))
    assert query_list(at, "site") == [sites[1]]
    assert [v for _, v in kpi_tiles(at)[:6]] == [_charts.fmt(expected.iloc[0][k], k) for k in KPIS]


def test_overview_claim_target_line(app, demo_dir) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir), "ov_tab", "Trend")
    at.selectbox(key="ov_model").set_value("ChestXR-Triage")
    at.selectbox(key="ov_metric").set_value("accuracy").run()
    assert not at.exception
    spec = charts(at)[0]
    shapes = spec["layout"].get("shapes", [])
    assert [s["y0"] for s in shapes] == [pytest.approx(97.4)]


def test_sites_page_heatmap_and_table(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/sites.py")
    assert not at.exception
    model, finding = first_pair(con)
    f = Filters(model_name=(model,), finding=(finding,))
    grid = summarize(con, by=("site", "scanner_model"), filters=f)
    # the heatmap tab is open first; the forest plots and the table are lazy tabs
    heat = charts(at)[0]
    assert len(charts(at)) == 1 and not at.dataframe
    assert sorted(heat["data"][1]["y"]) == sorted(grid["site"].unique())
    forests = []
    for tab in ("Forest plot: sites", "Forest plot: scanner models"):
        forests += charts(open_tab(at, "ss_tab", tab))
    # one forest plot per dimension, I^2 stated in the caption
    titles = [c["layout"]["title"]["text"] for c in forests]
    assert len(titles) == 2
    assert " by site" in titles[0] and " by scanner model" in titles[1]
    by_site = summarize(con, by=("site",), filters=f)
    het = heterogeneity_across(by_site[by_site["sensitivity"].notna()], ["site"], "sensitivity")
    assert het is not None
    stated = f"I² = {100 * het.i2.value:.0f}% (95% CI {100 * het.i2.low:.0f}–"
    assert any(
        c.value.startswith(stated) for c in open_tab(at, "ss_tab", "Forest plot: sites").caption
    )
    table = open_tab(at, "ss_tab", "Table").dataframe[0].value
    assert list(zip(table["site"], table["scanner_model"], strict=True)) == list(
        zip(grid["site"], grid["scanner_model"], strict=True)
    )
    assert table["sensitivity"].equals(grid["sensitivity"].round(3))  # one decimal in %
    assert not at.get("plotly_chart")


def test_agreement_page_kappa(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/agreement.py")
    assert not at.exception
    model, finding = first_pair(con)
    row = summarize(con, by=(), filters=Filters(model_name=(model,), finding=(finding,))).iloc[0]
    values = {m.label: m.value for m in at.metric}
    assert values["Cohen's kappa"] == _charts.fmt(row["kappa"], "kappa")
    assert values["Labelled cases"] == f"{int(row['n_labelled']):,}"
    [confusion] = charts(at)
    assert confusion["data"][0]["z"] == [[row["tp"], row["fp"]], [row["fn"], row["tn"]]]
    # by group (site, the default): the forest plot and the table of summarize's kappas
    groups = summarize(con, by=("site",), filters=Filters(model_name=(model,), finding=(finding,)))
    open_tab(at, "ag_tab", "By group")
    assert [c["layout"]["title"]["text"].split(" (")[0] for c in charts(at)] == ["Kappa by site"]
    table = at.dataframe[0].value
    assert list(table["site"]) == list(groups["site"])
    assert table["kappa"].equals(groups["kappa"])
    config = json.loads(at.dataframe[0].proto.columns)
    labels = {k: v.get("label") for k, v in config.items()}
    # the CIs as one text cell each; short labels, the long words in the headers' help
    assert (labels["kappa_ci"], labels["agreement"], labels["n_labelled"]) == (
        "95% CI", "Agreement", "Labelled cases"
    )  # fmt: skip
    assert (config["kappa_ci"]["help"], config["agreement"]["help"]) == (
        "Cohen's kappa, 95% CI", "Percent agreement"
    )  # fmt: skip
    assert list(table["kappa_ci"]) == [
        f"{_charts.fmt(lo, 'kappa')} – {_charts.fmt(hi, 'kappa')}" if pd.notna(lo) else "–"
        for lo, hi in zip(groups["kappa_low"], groups["kappa_high"], strict=True)
    ]
    # reader vs reader: the coefficients named in words, not n_items_3 or kappa_low
    open_tab(at, "ag_tab", "Reader vs reader")
    readers = json.loads(at.dataframe[0].proto.columns)
    assert {k: v.get("label") for k, v in readers.items() if k.startswith(("n_items", "ac1"))} == {
        "n_items": "Double-read items",
        "n_items_3": "Items read 3+ times",
        "ac1": "Gwet's AC1",
        "ac1_low": "Gwet's AC1, 95% CI low",
        "ac1_high": "Gwet's AC1, 95% CI high",
    }


def test_drift_page_alerts_equal_monitor(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/drift.py")
    assert not at.exception
    month = at.selectbox(key="dr_month").value
    result = metrics.monitor(con, month=month, reference=metrics.ReferenceWindow.first_months(6))
    if result.alerts:
        table = at.dataframe[0].value
        assert list(table["rule"]) == [a.rule for a in result.alerts]
        # each alert in the monthly report's own words, above the table
        from reports import alert_readings

        shown = "\n".join(m.value for m in at.markdown)
        said = alert_readings(result.alerts_as_dicts(), result.results, month)
        for alert, sentence in zip(result.alerts, said, strict=True):
            assert f"- **{alert.rule}**: {sentence}" in shown
    else:
        assert any(f"No drift alert for {month}" in s.value for s in at.success)
    # the alerts tab is open first; every other section is a lazy tab with its own chart
    assert not at.get("plotly_chart")

    def titles(tab: str) -> list[str]:
        return [c["layout"]["title"]["text"] for c in charts(open_tab(at, "dr_tab", tab))]

    assert [t.split(" (")[0] for t in titles("Score distribution")] == ["AI score distribution"]
    assert [t.split(" (")[0] for t in titles("Control charts")] == ["p-chart"]
    assert [t.split(" (")[0] for t in titles("Label completeness")] == [
        "Share of predictions with a reference read"
    ]
    # estimated (CBPE, pending studies) vs realised performance
    estimated = metrics.estimated_vs_realised(
        con,
        month=month,
        reference=metrics.ReferenceWindow.first_months(6),
        by=("site", "finding"),
    )
    assert len(estimated) > 0
    spec = estimated[(estimated["metric"] == "specificity") & estimated["estimate"].notna()]
    # the plotted rows' pending predictions, of every pending one
    plotted, total = int(round(spec["n_estimated"].sum())), int(estimated.attrs["n_pending"])
    pending = f"{plotted:,}" if plotted == total else f"{plotted:,} of {total:,}"
    # at this demo's size no site x finding has 5 expected reference-positive pending cases, so
    # sensitivity has no estimate (the page says so); specificity rests on the negatives
    titles("Estimated vs realised")
    assert any("No group has an estimate of sensitivity" in i.value for i in at.info)
    at.selectbox(key="dr_est").select("specificity").run()
    shown = [c["layout"]["title"]["text"] for c in charts(at)]
    assert len(shown) == 1 and shown[0].startswith(f"Specificity: estimate for {pending} pending")


def test_review_page_lists_discordant_and_saves(app, demo_copy, con) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    assert not at.exception
    cases = discordant_cases(con, kind="both", limit=200)
    assert len(at.dataframe[0].value) == len(cases)
    assert set(at.dataframe[0].value["study_uid"]) == set(cases["study_uid"])
    at.radio(key="cr_category").set_value("AI error")
    at.text_area(key="cr_comment").set_value("missed on the lateral view")
    at.button(key="cr_submit").click().run()
    assert not at.exception
    saved = _reviews.latest_reviews(demo_copy)
    assert len(saved) == 1
    first = cases.iloc[0]
    assert saved.iloc[0][
        ["study_uid", "finding", "model_name", "category", "reviewer"]
    ].tolist() == [first["study_uid"], first["finding"], first["model_name"], "AI error", "local"]
    # the reviewed case leaves the "not yet reviewed" view
    assert len(at.dataframe[0].value) == len(cases) - 1


def test_health_page_counts(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/health.py")
    assert not at.exception
    counts = overview_counts(con)
    values = {m.label: m.value for m in at.metric}
    assert values["Studies"] == f"{counts['studies']:,}" == "5,000"
    assert values["Predictions"] == f"{counts['predictions']:,}"
    assert values["Awaiting a reference read"] == f"{counts['pending']:,}"
    # the batch table shows every column the store gives; the batch, its file, the status and
    # the message first (they fit a 1280 px window: tests/dashboard/test_table_widths.py)
    [batches] = [d for d in at.dataframe if "batch_id" in d.value.columns]
    assert list(batches.proto.column_order) == []  # all the columns of the frame shown
    assert sorted(batches.value.columns) == sorted(metrics.ingest_batches(con).columns)
    assert list(batches.value.columns)[:4] == ["batch_id", "file_name", "status", "message"]


def test_health_page_gives_each_refusal_in_full(app, tmp_path) -> None:  # noqa: ANN001
    # the batch table cuts messages short; a refusal's reason is what the user acts on
    header = (
        "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score"
    )
    good, bad = tmp_path / "p.csv", tmp_path / "osaka.csv"
    good.write_text(f"{header}\n1,P1,Osaka,2026-10-01,CR,f,M,1,0.5\n")
    osaka = "\u5927\u962a\u5927\u5b66\u75c5\u9662"  # written by Japanese Excel: cp932
    bad.write_bytes(f"{header}\n2,P2,{osaka},2026-10-01,CR,f,M,1,0.5\n".encode("cp932"))
    data = tmp_path / "data"
    ingest_files(data, "predictions", [good, bad])
    at = app(data, "views/health.py")
    assert not at.exception
    assert [e.label for e in at.expander] == ["Files refused whole (1), with their reasons"]
    assert [t.value for t in at.text] == [
        "batch 2: osaka.csv: cannot be read as CSV: near line 2: the bytes are not valid UTF-8 "
        "text; they read as Japanese text in cp932 (Shift-JIS, as Japanese Windows and Excel "
        "write it): load it with --encoding cp932, or save it as UTF-8"
    ]


def test_reports_page_for_admin(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/reports.py")
    assert not at.exception
    assert [h.value for h in at.header][:2] == ["Monthly drift report", "Trial statistics export"]


@pytest.mark.parametrize(
    "page",
    [
        None,
        "views/sites.py",
        "views/agreement.py",
        "views/drift.py",
        "views/review.py",
        "views/reports.py",
        "views/health.py",
    ],
)
def test_empty_database_every_page_explains(app, empty_dir, page) -> None:  # noqa: ANN001
    at = app(empty_dir, page)
    assert not at.exception
    assert [i.value for i in at.info] and "has no predictions yet" in at.info[0].value
    assert not at.get("plotly_chart")


def test_missing_snapshot_explains(app, tmp_path) -> None:  # noqa: ANN001
    at = app(tmp_path)
    assert not at.exception
    assert at.info[0].value.startswith("No data to show yet: no published snapshot at ")
    assert "radqa demo" in at.info[0].value


def test_filters_with_no_match_say_so(app, demo_dir, con) -> None:  # noqa: ANN001
    s = summarize(con, by=("site", "modality"))
    sites, modalities = set(s["site"]), set(s["modality"])
    combos = set(zip(s["site"], s["modality"], strict=True))
    missing = [(a, b) for a in sorted(sites) for b in sorted(modalities) if (a, b) not in combos]
    if not missing:
        pytest.skip("every site has every modality in this demo")
    site, modality = missing[0]
    at = app(demo_dir, query={"site": site, "modality": modality})
    assert not at.exception
    assert "No predictions match" in at.info[0].value


def test_clearing_a_filter_clears_the_url(app, demo_dir, con) -> None:  # noqa: ANN001
    site = sorted(summarize(con, by=("site",))["site"])[0]
    at = app(demo_dir, query={"site": site})
    assert query_list(at, "site") == [site]
    at.multiselect(key="f_site").set_value([]).run()
    assert "site" not in at.query_params
    expected = summarize(con, by=("model_name", "finding"))
    assert kpi_tiles(at)[0][1] == _charts.fmt(expected.iloc[0]["sensitivity"], "sensitivity")


def test_agreement_page_reader_vs_reader(app, demo_dir, con) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir, "views/agreement.py"), "ag_tab", "Reader vs reader")
    model, finding = first_pair(con)
    expected = metrics.reader_agreement(con, by=("site",), filters=Filters(finding=(finding,)))
    values = {m.label: m.value for m in at.metric}
    assert values["Double-read items"] == f"{int(expected['n_items'].sum()):,}"
    table = at.dataframe[-1].value
    assert list(table["site"]) == list(expected["site"])
    # kappa as text: "not estimable" (its reason in words beside it), not an empty cell
    assert list(table["kappa"]) == [
        "not estimable" if np.isnan(k) else _charts.fmt(k, "kappa") for k in expected["kappa"]
    ]


def test_overview_claim_verdicts_equal_claim_check(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir)  # the claims tab is open first, for every model with claims
    assert not at.exception
    assert not at.get("plotly_chart")
    expected = metrics.claim_check(
        con,
        metric="accuracy",
        claimed=0.974,
        by=("finding",),
        filters=Filters(model_name=("ChestXR-Triage",)),
    )
    table = at.dataframe[-1].value
    assert list(table["finding"]) == list(expected["finding"])
    assert list(table["verdict"]) == list(expected["verdict"])
    assert set(table["model_name"]) == {"ChestXR-Triage"}
    below = int((expected["verdict"] == "below claim").sum())
    tested = int((expected["verdict"] != "insufficient data").sum())
    verdicts = [x.value for x in [*at.success, *at.error]]
    assert len(verdicts) == 1
    assert verdicts[0].startswith(
        f"ChestXR-Triage: claimed accuracy 97.4%: claim {'contradicted' if below else 'not contradicted'}: "
        f"{below} of {tested} tested finding(s) below"
    )
    assert bool(at.error) == (below > 0)


def test_overview_trend_by_quarter(app, demo_dir, con) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir), "ov_tab", "Trend")
    at.selectbox(key="ov_model").set_value("ChestXR-Triage")
    at.radio(key="ov_period").set_value("quarter").run()
    assert not at.exception
    expected = summarize(
        con,
        by=("model_name", "finding"),
        period="quarter",
        filters=Filters(model_name=("ChestXR-Triage",)),
    )
    spec = charts(at)[0]
    assert spec["layout"]["xaxis"]["title"]["text"] == "Study quarter"
    first = expected[expected["finding"] == spec["data"][0]["name"]].sort_values("period")
    assert spec["data"][0]["x"] == list(first["period"])
    shown = array(spec["data"][0]["y"])
    assert shown == pytest.approx(list(100 * first["sensitivity"]), nan_ok=True)
    assert len(shown) == len(first) > 4


def test_reset_filters(app, demo_dir, con) -> None:  # noqa: ANN001
    site = sorted(summarize(con, by=("site",))["site"])[0]
    at = app(demo_dir, query={"site": site, "modality": "CT"})
    assert at.multiselect(key="f_site").value == [site]
    at.button(key="f_reset").click().run()
    assert not at.exception
    assert at.multiselect(key="f_site").value == []
    assert at.multiselect(key="f_modality").value == []
    assert "site" not in at.query_params and "modality" not in at.query_params


def test_reports_page_generates_the_monthly_report(app, demo_copy, con) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/reports.py")
    month = at.selectbox(key="rp_month").value
    at.button(key="rp_generate").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    names = sorted(p.name for p in (demo_copy / "reports").iterdir())
    assert names == [f"drift-report-{month}.{ext}" for ext in ("html", "json", "pdf")]
    buttons = at.get("download_button")
    assert [b.proto.label for b in buttons] == [
        f"Download drift-report-{month}.{ext}" for ext in ("html", "json", "pdf")
    ]
    # another month: that month's files only (none yet), not the report just written
    other = at.selectbox(key="rp_month").options[1]
    at.selectbox(key="rp_month").set_value(other).run()
    assert not at.get("download_button")
    assert f"No report for {other} yet in {demo_copy / 'reports'}." in [c.value for c in at.caption]
    at.selectbox(key="rp_month").set_value(month).run()
    assert len(at.get("download_button")) == 3
    events = _audit.read_events(demo_copy)
    assert [(e["who"], e["what"], e["month"]) for e in events] == [
        ("local", "generate:monthly-report", month)
    ]
    assert events[0]["snapshot_id"] == overview_counts(con)["snapshot_id"] is not None
    # the Overview's banner now shows that report's alerts (not a recomputation)
    report = json.loads((demo_copy / "reports" / f"drift-report-{month}.json").read_text())
    overview = app(demo_copy)
    assert not overview.exception
    if report["alerts"]:
        assert overview.error[0].value.startswith(
            f"{len(report['alerts'])} open drift alert(s) in the monthly report {month}:"
        )
        # each alert in full: its rule and the report's own sentence
        shown = "\n".join(m.value for m in overview.markdown)
        for alert, reading in zip(report["alerts"], report["readings"], strict=True):
            assert f"- **{alert['rule']}**: {reading}" in shown
    else:
        assert any(f"No open drift alerts in the monthly report {month}" in x.value
                   for x in overview.success)  # fmt: skip


def test_overview_without_a_report_points_to_the_drift_page(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy)
    assert not at.exception
    assert (
        f"No monthly drift report in {demo_copy / 'reports'}, where this page looks. "
        "`radqa report monthly --month YYYY-MM` (without `--out`) writes one there; the "
        "Drift page checks any month live."
    ) in [c.value for c in at.caption]


def test_a_newly_published_snapshot_is_picked_up(app, demo_copy, empty_dir) -> None:  # noqa: ANN001
    at = app(demo_copy)
    assert len(kpi_tiles(at)) == 60
    # publishing is an atomic rename over the snapshot file: the next rerun sees the new data
    tmp = demo_copy / "incoming.duckdb"
    shutil.copy(store.snapshot_path(empty_dir), tmp)
    os.replace(tmp, store.snapshot_path(demo_copy))
    at.run()
    assert not at.exception
    assert not kpi_tiles(at)
    assert "has no predictions yet" in at.info[0].value


def test_p_values_as_shown() -> None:
    assert _charts.fmt_p(0.0) == "p < 0.001"
    assert _charts.fmt_p(0.000999) == "p < 0.001"
    assert _charts.fmt_p(0.001) == "p = 0.001"
    assert _charts.fmt_p(0.04492) == "p = 0.0449"


def test_data_health_shows_reads_loaded_before_any_prediction(app, tmp_path) -> None:  # noqa: ANN001
    """Reads may arrive first; Data health said only 'no predictions yet' and hid them."""
    reads = tmp_path / "reads.csv"
    reads.write_text(
        "study_uid,finding,reader_id,label,read_datetime\n"
        "1,ptx,R1,1,2026-10-02\n2,ptx,R1,0,2026-10-02\n3,ptx,R2,0,2026-10-03\n"
    )
    data_dir = tmp_path / "data"
    [result] = ingest_files(data_dir, "reads", [reads])
    assert result.inserted == 3
    at = app(data_dir, "views/health.py")
    assert not at.exception
    assert "has no predictions yet" in at.info[0].value
    tiles = {m.label: m.value for m in at.metric}
    assert (tiles["Reads"], tiles["Predictions"], tiles["Committed batches"]) == (
        "3",
        "0",
        "1",
    )
    overview = app(data_dir)
    assert not overview.metric  # the other pages still stop at the message


def test_drift_page_uses_the_reference_window_of_the_rules_file(app, demo_copy, con) -> None:  # noqa: ANN001
    """A [reference] table in alert_rules.toml: the Drift page checks against that window, as
    the monthly report does, instead of offering the first months of data."""
    from metrics._rules import DEFAULT_RULES_TOML

    (demo_copy / "alert_rules.toml").write_text(
        DEFAULT_RULES_TOML + '\n[reference]\nfirst = "2025-01"\nlast = "2025-04"\n'
    )
    at = app(demo_copy, "views/drift.py")
    assert not at.exception
    assert not [n for n in at.number_input if n.key == "dr_ref"]
    captions = [c.value for c in at.caption]
    assert any(
        c.startswith("Reference window 2025-01 to 2025-04 (set in alert_rules.toml ([reference]))")
        for c in captions
    ), captions
    month = at.selectbox(key="dr_month").value
    window = metrics.ReferenceWindow(first="2025-01", last="2025-04")
    result = metrics.monitor(con, month=month, reference=window)
    if result.alerts:
        assert list(at.dataframe[0].value["rule"]) == [a.rule for a in result.alerts]
