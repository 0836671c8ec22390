"""Labels of the Overview's claims table and the Drift page's tables: every interval's method is
named, every column explained, and no cell shows a bare None or an unexplained status."""

from __future__ import annotations

import json

import pandas as pd

import metrics
from dashboard import _alerts
from dashboard._columns import TABLE_WIDTH_1280, wrapped_lines
from metrics import Filters

from .conftest import open_tab

CLAIMS = '[claims."ChestXR-Triage"]\naccuracy = 0.974\nagreement = 0.93\n'


def column_labels(element) -> dict[str, str]:  # noqa: ANN001
    """The column config of an ``st.dataframe`` as AppTest saw it: column -> its label."""
    config = json.loads(element.proto.columns)
    return {name: c.get("label", name) for name, c in config.items()}


def test_claims_table_names_the_interval_method_of_every_row(app, demo_copy, con) -> None:  # noqa: ANN001
    """Agreement rows have Gwet's interval, accuracy rows Wilson's: each row says which."""
    (demo_copy / "radqa.toml").write_text(CLAIMS)
    at = app(demo_copy)
    assert not at.exception
    table = at.dataframe[-1].value
    methods = summarize_methods(con)
    assert set(table["metric"]) == {"accuracy", "agreement"}
    for metric, method in zip(table["metric"], table["ci_method"], strict=True):
        assert method == methods["agreement" if metric == "agreement" else "proportions"]
    assert methods["agreement"] != methods["proportions"]
    # the footnote under the table names both
    caption = next(c.value for c in at.caption if c.value.startswith("95% CI: accuracy"))
    assert caption == (
        f"95% CI: accuracy: {methods['proportions']}; agreement: {methods['agreement']}."
    )
    # and the agreement rows' intervals are those of metrics (not recomputed in the page)
    expected = metrics.claim_check(
        con,
        metric="agreement",
        claimed=0.93,
        by=("finding",),
        filters=Filters(model_name=("ChestXR-Triage",)),
    )
    shown = table[table["metric"] == "agreement"]
    # shown to one decimal in %: the share rounded to 0.001 (_columns.shares_rounded)
    assert list(shown["low"]) == list(expected["low"].round(3))


def summarize_methods(con) -> dict[str, str]:  # noqa: ANN001
    return metrics.summarize(con, by=("finding",)).attrs["methods"]


def test_claims_table_headers_are_short_and_explained(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir)
    labels = column_labels(at.dataframe[-1])
    assert labels["above_claim"] == "Above claim"
    assert labels["ci_method"] == "CI method"
    config = json.loads(at.dataframe[-1].proto.columns)
    assert config["above_claim"]["help"] == "The 95% CI lies wholly above the claimed figure"
    # "Above claim" whole in its header (73 px of text, 8 px padding a side)
    assert config["above_claim"]["width"] == 89


def test_estimated_vs_realised_names_methods_and_shows_no_none(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/drift.py")
    assert not at.exception
    at = open_tab(at, "dr_tab", "Estimated vs realised")
    table = at.dataframe[-1].value
    cells = table.astype(str).to_numpy().ravel().tolist()
    assert "None" not in cells and "nan" not in cells
    # this small demo's newest month has no read group of 30 yet: every realised is pending
    assert set(table["realised"]) == {"pending"} and set(table["covered"]) == {""}
    realised = metrics.summarize(con, by=("site", "finding"))
    caption = next(c.value for c in at.caption if c.value.startswith("Estimate: "))
    assert "Poisson-binomial variance, delta method" in caption
    assert realised.attrs["methods"]["proportions"] in caption
    assert "Covered: whether the realised value lies inside the estimate's 95% CI" in caption
    assert "observed counts" in caption


def test_new_software_on_a_new_scanner_says_why_it_is_not_judged() -> None:
    """The tester's row: Busan GC85A's software S-Vue 3.02, 251 studies, no reference month."""
    new = pd.DataFrame(
        {
            "rule": [
                "new scanner model",
                "new scanner software version",
                "new scanner software version",
                "new scanner software version",
            ],
            "site": ["Busan Community Hospital"] * 4,
            "scanner_model": [None, "GC85A", "X", "Y"],
            "category": ["GC85A", "S-Vue 3.02", "v2", "v3"],
            "n": [251.0, 251.0, 40.0, 3.0],
            "n_reference": [5987.0, 0.0, 4.0, 500.0],
            "status": ["drift", "insufficient data", "insufficient data", "insufficient data"],
        }
    )
    words = _alerts.new_category_status(
        new, {"new scanner model": 10, "new scanner software version": 10}
    )
    assert words == [
        "drift",
        "not judged: no reference months for scanner GC85A (no studies of it in the "
        "reference window)",
        "not judged: 4 studies in the reference window, fewer than the rule's minimum of 10",
        "not judged: 3 studies this month, fewer than the rule's minimum of 10",
    ]


def test_drift_page_new_categories_have_no_bare_insufficient_data(app, demo_dir) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir, "views/drift.py"), "dr_tab", "New scanners & software")
    assert at.dataframe, "the test demo has a new scanner or software version"
    table = at.dataframe[-1]
    assert "insufficient data" not in set(table.value["status"])
    assert any(c.value.startswith("Status: drift when") for c in at.caption)
    # headers in words, no "None" where a new scanner model's row has no scanner model
    labels = column_labels(table)
    assert (labels["scanner_or_model"], labels["category"], labels["n"], labels["status"]) == (
        "Scanner or AI model", "New value", "Studies", "Status"
    )  # fmt: skip
    shown = table.value
    assert (shown["scanner_or_model"] != "").all() and shown["scanner_or_model"].notna().all()
    # a new scanner model's row names it, a new model version's row its AI model
    scanner = shown["rule"] == "new scanner model"
    assert (shown.loc[scanner, "scanner_or_model"] == shown.loc[scanner, "category"]).all()
    version = shown["rule"] == "new model version"
    assert version.any()
    assert set(shown.loc[version, "scanner_or_model"]) <= {"ChestXR-Triage", "CT-Lung"}


def test_new_categories_reason_has_its_own_wrapping_column(app, demo_dir) -> None:  # noqa: ANN001
    """A tester's fault: "not judged: <why>" in the Status column was cut at about 40
    characters. The status is short; the reason has its own column, wide enough, in rows tall
    enough for Streamlit to wrap it (more than 64 px)."""
    at = open_tab(app(demo_dir, "views/drift.py"), "dr_tab", "New scanners & software")
    table = at.dataframe[-1]
    shown = table.value
    assert set(shown["status"]) <= {"drift", "ok", "not judged", "known"}
    judged = shown["status"] != "not judged"
    assert (~judged).any(), "the test demo has a new category it cannot judge"
    assert (shown.loc[shown["status"].isin(["drift", "ok"]), "reason"] == "").all()
    # a new category past its rule's alert_months: since when, and when it alerted
    known = shown.loc[shown["status"] == "known", "reason"]
    assert (
        len(known)
        and known.str.match(
            r"in use since \d{4}-\d{2}; alerted \d{4}-\d{2} to \d{4}-\d{2} \(alert_months = 3\), "
            r"then known$"
        ).all()
    ), list(known)
    assert known.str.len().max() <= 3 * 31
    reasons = shown.loc[~judged, "reason"]
    assert reasons.str.len().min() > 30 and not reasons.str.startswith("not judged").any()
    # whole sentences of new_category_status, after its "not judged: "
    assert all(
        r.startswith("no reference months for ") or "fewer than the rule's minimum of " in r
        for r in reasons
    ), list(reasons)
    assert list(shown.columns).index("reason") == list(shown.columns).index("status") + 1
    config = json.loads(table.proto.columns)
    assert config["reason"]["label"] == "Why not judged, or no alert"
    # 205 px (15 went to the site's column): the longest reason of the demo on three lines
    assert config["reason"]["width"] == 205
    assert max(wrapped_lines(r, 205) for r in shown["reason"]) == 3
    assert config["status"]["width"] == 75
    widths = [c["width"] for name, c in config.items() if name != "_index"]
    # the table is 818 px wide inside its borders at a 1280 x 800 window: no column cut
    assert sum(widths) <= TABLE_WIDTH_1280
    assert table.proto.row_height > 64
