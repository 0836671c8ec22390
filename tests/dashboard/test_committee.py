"""Faults a QA tester found using the dashboard as a committee member (round 6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import metrics
from metrics import Filters

from .conftest import charts, open_tab


def column_labels(frame) -> dict[str, str]:  # noqa: ANN001
    """A shown dataframe's column -> the label its column_config gives it."""
    config = json.loads(frame.proto.columns or "{}")
    return {k: v.get("label") for k, v in config.items()}


def test_claim_with_no_tested_finding_is_neutral(app, demo_dir, con) -> None:  # noqa: ANN001
    day = "2026-10-31"  # the demo's last day: every prediction's read is still pending
    f = Filters(model_name=("ChestXR-Triage",), date_from=_d(day), date_to=_d(day))
    expected = metrics.claim_check(
        con, metric="accuracy", claimed=0.974, by=("finding",), filters=f
    )
    assert len(expected) == 4 and set(expected["verdict"]) == {"insufficient data"}
    at = app(demo_dir, query={"from": day, "to": day})
    assert not at.exception
    assert not at.success and not at.error
    [info] = [i.value for i in at.info if i.value.startswith("ChestXR-Triage")]
    assert info.startswith(
        "ChestXR-Triage: claimed accuracy 97.4%: not enough labelled data to check the claim"
    )
    assert "none of 4 finding(s) has enough labelled cases" in info


def test_claim_counts_tested_and_untested_findings(app, demo_dir, con) -> None:  # noqa: ANN001
    f = Filters(model_name=("ChestXR-Triage",))
    expected = metrics.claim_check(
        con, metric="accuracy", claimed=0.974, by=("finding",), filters=f
    )
    tested = expected[expected["verdict"] != "insufficient data"]
    below = int((tested["verdict"] == "below claim").sum())
    at = app(demo_dir)
    [text] = [x.value for x in [*at.success, *at.error] if x.value.startswith("ChestXR")]
    assert f"{below} of {len(tested)} tested finding(s) below the claim" in text


def _d(text: str):  # noqa: ANN202
    import datetime as dt

    return dt.date.fromisoformat(text)


@pytest.mark.parametrize("page", ["views/agreement.py", "views/sites.py"])
def test_model_finding_picker_follows_the_sidebar_filters(app, demo_dir, con, page) -> None:  # noqa: ANN001
    key = "ag_pair" if "agreement" in page else "ss_pair"
    at = app(demo_dir, page, query={"scanner_model": "GC85A"})
    assert not at.exception
    present = metrics.label_completeness(
        con, by=("model_name", "finding"), filters=Filters(scanner_model=("GC85A",))
    )
    wanted = sorted(
        f"{m} · {f}" for m, f in zip(present["model_name"], present["finding"], strict=True)
    )
    assert wanted[0] == "ChestXR-Triage · consolidation"
    picker = at.selectbox(key=key)
    assert list(picker.options) == wanted
    assert picker.value == wanted[0]
    assert not [i.value for i in at.info if "No prediction" in i.value]
    if "agreement" in page:
        f = Filters(
            scanner_model=("GC85A",), model_name=("ChestXR-Triage",), finding=("consolidation",)
        )
        row = metrics.summarize(con, by=(), filters=f).iloc[0]
        assert at.metric[2].value == f"{int(row['n_labelled']):,}"
    # Modality MR: only the MR models
    at.sidebar.multiselect(key="f_scanner_model").set_value([]).run()
    at.sidebar.multiselect(key="f_modality").set_value(["MR"]).run()
    assert not at.exception
    assert {o.split(" · ")[0] for o in at.selectbox(key=key).options} == {"MR-Brain", "MR-Spine"}
    assert at.selectbox(key=key).value == "MR-Brain · acute_infarct"


def test_drift_tabs_follow_modality_and_say_which_filters_apply(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/drift.py", query={"modality": "MR"})
    assert not at.exception
    assert at.selectbox(key="dr_month").value == "2026-10"
    mr = metrics.label_completeness(con, by=("finding",), filters=Filters(modality=("MR",)))
    open_tab(at, "dr_tab", "Score distribution")
    assert list(at.selectbox(key="dr_hist_finding").options) == sorted(mr["finding"])
    open_tab(at, "dr_tab", "New scanners & software")
    # the month's only new scanner model is the GC85A radiography room: not an MR scanner
    result = metrics.monitor(
        con, month="2026-10", reference=metrics.ReferenceWindow.first_months(6)
    )
    assert "GC85A" in set(result.new_categories["category"])
    assert not at.dataframe
    assert [s.value for s in at.success] == [
        "No scanner model, scanner software or AI model version that the reference window did "
        "not have."
    ]
    caption = next(c.value for c in at.caption if c.value.startswith("The alert rules run"))
    assert "Applied here: modality." in caption
    # the date filter is named as not applied
    at = app(demo_dir, "views/drift.py", query={"from": "2026-01-01", "scanner_model": "GC85A"})
    caption = next(c.value for c in at.caption if c.value.startswith("The alert rules run"))
    assert caption.endswith("Applied here: scanner model. Not applied here: study date.")
    open_tab(at, "dr_tab", "New scanners & software")
    shown = at.dataframe[0].value
    scanners = shown[shown["rule"] != "new model version"]
    assert set(scanners["scanner_or_model"]) == {"GC85A"}
    # the AI model version that scored the GC85A's studies (at its site) is new too
    gc85a = metrics.label_completeness(
        con, by=("site", "model_name", "model_version"),
        filters=Filters(scanner_model=("GC85A",), date_from=_d("2026-10-01"), date_to=_d("2026-10-31")),
    )  # fmt: skip
    versions = shown[shown["rule"] == "new model version"]
    assert len(versions) >= 1
    assert set(
        zip(versions["site"], versions["scanner_or_model"], versions["category"], strict=True)
    ) <= set(zip(gc85a["site"], gc85a["model_name"], gc85a["model_version"], strict=True))
    assert set(versions["scanner_or_model"]) == {"ChestXR-Triage"}


def test_data_health_says_it_covers_the_whole_snapshot(app, demo_dir, con) -> None:  # noqa: ANN001
    sites = sorted(metrics.label_completeness(con, by=("site",))["site"])
    at = app(demo_dir, "views/health.py", query={"site": sites[0]})
    assert not at.exception
    counts = metrics.overview_counts(con)  # the whole snapshot, whatever the filters
    values = {m.label: m.value for m in at.metric}
    assert values["Studies"] == f"{counts['studies']:,}" == "5,000"
    assert values["Awaiting a reference read"] == f"{counts['pending']:,}"
    assert "Pending reads" not in values
    top = at.caption[0].value
    assert "filters:" not in top and sites[0] not in top
    assert top.endswith(
        "Data health covers the whole snapshot: the sidebar filters do not apply here, "
        "except on the Label completeness tab."
    )
    open_tab(at, "dh_tab", "Label completeness")
    assert f"Filters: site: {sites[0]}." in [c.value for c in at.caption]
    shown = at.dataframe[0].value
    assert list(shown["site"]) == [sites[0]]


def test_reader_vs_reader_axis_names_the_radiologists(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/agreement.py")
    at.selectbox(key="ag_pair").set_value("ChestXR-Triage · pleural_effusion")
    at = open_tab(at, "ag_tab", "Reader vs reader")
    [spec] = charts(at)
    assert spec["layout"]["title"]["text"].startswith("Reader vs reader kappa by site")
    assert spec["layout"]["xaxis"]["title"]["text"] == "Kappa (radiologist vs radiologist)"
    at = open_tab(at, "ag_tab", "By group")  # the AI's chart keeps the AI's label
    [spec] = charts(at)
    assert spec["layout"]["xaxis"]["title"]["text"] == "Kappa (AI vs reference)"


def test_heatmap_cells_show_the_class_n_and_the_interval(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/sites.py")
    at.selectbox(key="ss_pair").set_value("ChestXR-Triage · pneumothorax").run()
    assert at.selectbox(key="ss_metric").value == "sensitivity"
    f = Filters(model_name=("ChestXR-Triage",), finding=("pneumothorax",))
    grid = metrics.summarize(con, by=("site", "scanner_model"), filters=f)
    heat = charts(at)[0]
    grey, colour = heat["data"]
    rows, cols = colour["y"], colour["x"]
    checked = 0
    for r in grid.itertuples():
        i, j = rows.index(r.site), cols.index(r.scanner_model)
        positives = int(r.tp + r.fn)
        if np.isnan(r.sensitivity):
            assert grey["text"][i][j] == f"insufficient<br>n = {positives}"
            assert colour["text"][i][j] == ""
            assert f"n = {positives} reference-positive" in grey["customdata"][i][j]
        else:
            checked += 1
            low, high = (f"{100 * x:.1f}" for x in (r.sensitivity_low, r.sensitivity_high))
            assert colour["text"][i][j] == (
                f"{100 * r.sensitivity:.1f}%<br>{low}–{high}<br>n = {positives}"
            )
            assert f"n = {positives} reference-positive" in colour["customdata"][i][j]
            assert positives < int(r.n_labelled)  # the n shown is not the labelled cases
    assert checked > 0
    assert (
        "cells: estimate, 95% CI, n of reference-positive cases" in heat["layout"]["title"]["text"]
    )
    assert any(c.value.startswith("Each cell: Sensitivity, its 95% CI") for c in at.caption)
    assert any("95% CI: Wilson score" in c.value for c in at.caption)


def test_ci_methods_are_visible_and_tables_read_in_words(app, demo_dir, con) -> None:  # noqa: ANN001
    methods = metrics.summarize(con, by=("model_name", "finding")).attrs["methods"]
    at = app(demo_dir)
    captions = [c.value for c in at.caption]
    line = (
        f"95% CI: sensitivity, specificity, PPV, NPV, accuracy: {methods['proportions']}; "
        f"AUC: {methods['auc']}; kappa: {methods['kappa']}."
    )
    assert methods["proportions"].startswith("Wilson score")
    assert captions.count(line) == 1  # under the tiles
    # under the claims table: the methods of the claimed metrics shown (each row also names its)
    assert f"95% CI: accuracy: {methods['proportions']}." in captions
    claims = at.dataframe[-1]
    labels = column_labels(claims)
    # short labels (the table fits a 1280 px window), the long words in each header's help
    assert labels["n_labelled"] == "Labelled cases" and labels["above_claim"] == "Above claim"
    assert labels["estimate"] == "Estimate" and labels["low"] == "CI low"
    config = json.loads(claims.proto.columns)
    assert config["estimate"]["help"].startswith("Local estimate")
    assert config["low"]["help"] == "95% CI of the local estimate, lower end"
    assert config["estimate"]["type_config"]["format"] == "percent"
    assert line in [c.value for c in open_tab(at, "ov_tab", "Trend").caption]
    # Agreement: the tile's interval names its method
    ag = app(demo_dir, "views/agreement.py")
    assert f"95% CI: kappa: {methods['kappa']}; agreement: {methods['agreement']}." in [
        c.value for c in ag.caption
    ]
    # Sites table: human labels, percentages, the method
    sites = open_tab(app(demo_dir, "views/sites.py"), "ss_tab", "Table")
    labels = column_labels(sites.dataframe[0])
    assert labels["sensitivity_low"] == "Sensitivity, 95% CI low"
    assert labels["n_labelled"] == "Labelled cases" and labels["scanner_model"] == "Scanner model"
    config = json.loads(sites.dataframe[0].proto.columns)
    assert config["ppv"]["type_config"]["format"] == "percent"
    assert config["auc"]["type_config"]["format"] == "%.3f"
    assert any(c.value.startswith("95% CI: proportions: Wilson score") for c in sites.caption)


def test_case_review_and_control_chart_read_in_words(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/review.py")
    assert not at.exception
    cases = metrics.discordant_cases(con, kind="both", limit=200)
    shown = at.dataframe[0].value
    wanted = cases["kind"].map(
        {"fn": "false negative (AI missed)", "fp": "false positive (AI over-called)"}
    )
    assert list(shown["kind"]) == list(wanted)
    assert set(shown["ref_label"]) <= {"positive", "negative"}
    labels = column_labels(at.dataframe[0])
    assert labels["kind"] == "Discordance" and labels["ref_label"] == "Reference"
    caption = next(c.value for c in at.caption if "discordant case(s)" in c.value)
    assert caption.endswith(
        "Study UIDs are shown as loaded, to find the study in PACS; patient and reader ids are "
        "pseudonymised at ingest."
    )
    drift = open_tab(app(demo_dir, "views/drift.py"), "dr_tab", "Control charts")
    picker = drift.selectbox(key="dr_spc_metric")
    picker.set_value("positive_rate").run()
    [spec] = charts(drift)
    assert spec["layout"]["yaxis"]["title"]["text"] == "Share of studies the AI calls positive (%)"
