"""The monthly report's heterogeneity cells and forest titles (an empty Q-profile interval in
words), its readings of alerts grouped by AI model, and its new-categories table (words for
the attribute, the reason a row was not judged). Small hand-made inputs: no store, no PDF."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd

from reports._charts import _forest_title
from reports._render import _drift_tables, _het_table, i2_ci, pct_ci, reading
from reports.monthly import _forests

NAN = math.nan
EMPTY_CELL = "0% (no CI: Q-profile interval empty)"


def _perf(dim: str, rows: list[tuple[str, int, int, int, int]]) -> pd.DataFrame:
    """A performance_<dim> table: one finding of one model, groups (label, tp, fn, tn, fp)."""
    df = pd.DataFrame(rows, columns=[dim, "tp", "fn", "tn", "fp"])
    df["sensitivity"] = df["tp"] / (df["tp"] + df["fn"])
    df["specificity"] = df["tn"] / (df["tn"] + df["fp"])
    for m in ("sensitivity", "specificity"):  # the intervals are not used by heterogeneity
        df[f"{m}_low"], df[f"{m}_high"] = df[m] - 0.1, df[m] + 0.1
    return df.assign(finding="pneumothorax", model_name="ChestXR-Triage", insufficient=False)


def _het() -> list[dict]:
    """Three sites of identical sensitivity (40 of 50: Q = 0, an empty Q-profile interval) and
    specificities 80%, 60%, 90% of 100 (a finite interval)."""
    site = _perf("site", [("A", 40, 10, 80, 20), ("B", 40, 10, 60, 40), ("C", 40, 10, 90, 10)])
    scanner = _perf("scanner_model", []).iloc[0:0]
    het, _ = _forests({"performance_site": site, "performance_scanner": scanner}, 0.05)
    return het


def test_an_empty_q_profile_interval_is_said_and_in_the_json() -> None:
    sens, spec = _het()
    assert (sens["metric"], sens["k"], sens["i2"], sens["tau2"]) == ("sensitivity", 3, 0.0, 0.0)
    assert sens["q"] < 1e-20
    # the interval of tau² and I² is empty: NaN bounds and metrics' note, both in the JSON
    assert all(math.isnan(sens[k]) for k in ("i2_low", "i2_high", "tau2_low", "tau2_high"))
    assert sens["i2_note"].startswith("no interval: Q = ")
    assert "is below the 0.025 quantile of chi^2(2), 0.0506; the groups agree" in sens["i2_note"]
    assert spec["i2_note"] is None and 0 <= spec["tau2_low"] < spec["tau2"] < spec["tau2_high"]
    assert spec["tau2"] == spec["tau2_reml"] > 0.3
    # the table's cell and the forest plot's title say so, never a bare "0%"
    assert pct_ci(0.0, NAN, NAN) == "0%"  # the generic formatter, for other estimates
    assert i2_ci(sens["i2"], sens["i2_low"], sens["i2_high"]) == EMPTY_CELL
    assert _forest_title(sens, "site", "sensitivity") == (
        "Sensitivity by site: I² = 0%<br>(no CI: Q-profile interval empty)"
    )
    rep = SimpleNamespace(heterogeneity=[sens, spec], settings=SimpleNamespace(alpha=0.05))
    table = _het_table(rep)  # type: ignore[arg-type]
    [row] = table["rows"]
    assert row[:4] == ["pneumothorax", "site", "3", EMPTY_CELL]
    assert row[7] == i2_ci(spec["i2"], spec["i2_low"], spec["i2_high"])
    assert table["note"].endswith(
        "No CI: Cochran's Q is below the 0.025 quantile of its chi² distribution, so the "
        "Q-profile interval of tau² and I² is empty: the groups agree more closely than their "
        "standard errors predict. The reason is in the JSON (heterogeneity, i2_note)."
    )
    # a table of intervals only has no such footnote
    assert "No CI" not in _het_table(SimpleNamespace(heterogeneity=[spec],  # type: ignore[arg-type]
                                                     settings=rep.settings))["note"]  # fmt: skip


def test_forest_title_and_table_format_the_interval_alike() -> None:
    h = {"i2": 0.0, "i2_low": 0.0, "i2_high": 0.997104265053}  # the 20k demo's consolidation
    assert i2_ci(h["i2"], h["i2_low"], h["i2_high"]) == "0% (0%–99.7%)"
    assert _forest_title(h, "site", "sensitivity") == "Sensitivity by site: I² = 0% (0%–99.7%)"
    h = {"i2": 0.455288960676, "i2_low": 0.0, "i2_high": 0.98593144398}
    assert _forest_title(h, "scanner", "specificity") == (
        "Specificity by scanner: I² = 46% (0%–99%)"
    )
    assert _forest_title({"i2": NAN, "i2_low": NAN, "i2_high": NAN}, "site", "sensitivity") == (
        "Sensitivity by site: I² not estimable"
    )
    assert _forest_title(None, "site", "sensitivity") == "Sensitivity by site"


def _alert(metric: str, group: dict[str, str], value: float, **evidence: float) -> dict:
    return {"rule": "r", "metric": metric, "value": value, "threshold": 0.1, "group": group,
            "first_period": "2026-09", "periods": 2, "evidence": {"n": 120, **evidence}}  # fmt: skip


def test_readings_name_the_ai_model_of_the_group() -> None:
    empty = pd.DataFrame()
    ks = _alert("score", {"model_name": "ChestXR-Triage", "finding": "pneumothorax"}, 0.25)
    assert reading(ks, [ks], empty, "2026-10", ("ks", 0.1, {})) == (
        "AI score distribution of ChestXR-Triage for pneumothorax shifted (Kolmogorov-Smirnov "
        "D 0.25 above the threshold 0.10; n = 120); 2 months running (since 2026-09)."
    )
    sens = _alert("sensitivity", {"model_name": "CT-Lung", "site": "S1"}, -0.2,
                  reference_value=0.9, ci_low=-0.3, ci_high=-0.1, p_value=0.001)  # fmt: skip
    assert reading(sens, [sens], empty, "2026-10", ("two_proportion", 0.05, {})) == (
        "Sensitivity of CT-Lung at S1 fell from 90.0% (difference −20.0 percentage points, 95% "
        "CI −30.0 to −10.0; n = 120); 2 months running (since 2026-09)."
    )
    vol = _alert("volume", {"model_name": "CT-Lung"}, -0.25, reference_value=160)
    assert reading(vol, [vol], empty, "2026-10", ("poisson", 0.2, {})).startswith(
        "Study volume of CT-Lung fell by 25% "
    )
    mix = _alert("body_part", {"model_name": "CT-Lung", "site": "S1"}, 0.3)
    assert reading(mix, [mix], empty, "2026-10", ("psi", 0.1, {})).startswith(
        "Case mix by body part of CT-Lung at S1 shifted"
    )
    version = {"model_name": "ChestXR-Triage", "model_version": "2.2", "finding": "nodule"}
    psi = _alert("score", version, 0.3)
    assert reading(psi, [psi], empty, "2026-10", ("psi", 0.1, {})).startswith(
        "AI score distribution of ChestXR-Triage version 2.2 for nodule shifted (PSI 0.30"
    )
    # a new model version's sentence names the model once
    new = _alert("model_version", {"site": "S1", "model_name": "CT-Lung", "model_version": "3.1"},
                 1.0)  # fmt: skip
    assert reading(new, [new], empty, "2026-10", ("new_category", 0.0, {})).startswith(
        "New model version CT-Lung 3.1 at S1, never seen in the reference window: 100% of "
    )


def _rule(name: str, min_n: int = 30) -> SimpleNamespace:
    return SimpleNamespace(name=name, method="new_category", min_n=min_n, persistence=1)


def test_new_categories_table_in_words_with_the_reason_a_row_was_not_judged() -> None:
    new = pd.DataFrame({
        "rule": ["new model version", "new model version", "new scanner model",
                 "new scanner software version"],
        "metric": ["model_version", "model_version", "scanner_model", "scanner_software"],
        "site": ["Busan", "Osaka", "Busan", "Busan"],
        "scanner_model": [None, None, None, "GC85A"],
        "model_name": ["CT-Lung", "ChestXR-Triage", None, None],
        "category": ["3.1", "2.2", "GC85A", "S-Vue 3.02"],
        "n": [9.0, 133.0, 26.0, 26.0],
        "n_reference": [83.0, 900.0, 5987.0, 0.0],
        "value": [1.0, 1.0, 0.28, 1.0],
        "status": ["insufficient data", "drift", "drift", "insufficient data"],
        "periods": [7, 16, 2, 0],
        "month": ["2026-10"] * 4,
        # 2.2 alerted in its first 3 months (alert_months) and is known; GC85A still alerts
        "first_alert": ["2026-04", "2025-07", "2026-09", None],
        "alert_until": ["2026-06", "2025-09", "2026-11", None],
        "known": [False, True, False, False],
    })  # fmt: skip
    rules = [_rule("new model version"), _rule("new scanner model"),
             _rule("new scanner software version")]  # fmt: skip
    tables = {"drift_checks": pd.DataFrame(columns=["rule", "ok", "drift", "insufficient data"]),
              "new_categories": new, "drift_findings": pd.DataFrame()}  # fmt: skip
    rep = SimpleNamespace(tables=tables, settings=SimpleNamespace(rules=rules))
    table = _drift_tables(rep)[1]  # type: ignore[arg-type]
    assert table["title"] == (
        "New scanners, software and AI model versions (never seen in the reference)"
    )
    assert table["header"][0] == "What" and table["header"][-1] == (
        "Months running (or why not judged)"
    )
    assert [(r[0], r[-1]) for r in table["rows"]] == [
        ("AI model version",
         "not judged: 9 studies this month, fewer than the rule's minimum of 30"),
        ("AI model version", "16 (in use since 2025-07; alerted 2025-07 to 2025-09 "
                             "(alert_months = 3), then known)"),
        ("scanner model", "2"),
        ("scanner software version", "not judged: no reference months for scanner GC85A (no "
                                     "studies of it in the reference window)"),
    ]  # fmt: skip
    assert table["cls"] == "wrap-last"
    # the Scanner column: a new scanner model's row names it (it showed "–")
    scanner = table["header"].index("Scanner")
    assert [r[scanner] for r in table["rows"]] == ["–", "–", "GC85A", "GC85A"]


def test_a_case_mix_rule_on_the_scanner_column_is_no_new_scanner() -> None:
    """A tester: a Jensen-Shannon rule on scanner_model read "New scanner model ? at SiteA,
    never seen in the reference window"; and a new category's months count from its first
    month, gaps included, so they are not "running"."""
    empty = pd.DataFrame()
    mix = _alert("scanner_model", {"site": "SiteA"}, 0.36, p_value=0.001)
    assert reading(mix, [mix], empty, "2026-10", ("jensen_shannon", 0.05, {})) == (
        "Case mix by scanner model at SiteA shifted (distance 0.36 above the threshold 0.10; "
        "n = 120); 2 months running (since 2026-09)."
    )
    new = _alert("scanner_model", {"site": "SiteA", "scanner_model": "NewX"}, 0.4)
    assert reading(new, [new], empty, "2026-10", ("new_category", 0.0, {})) == (
        "New scanner model NewX at SiteA, never seen in the reference window: 40% of this "
        "month's studies there (n = 120); first seen there in 2026-09 (2 months ago, this one "
        "included)."
    )


def test_a_scanner_without_manufacturer_is_named_by_its_model() -> None:
    from reports._render import _scanner_name

    assert _scanner_name({"scanner_manufacturer": float("nan"), "scanner_model": "NewX"}) == "NewX"
    assert _scanner_name({"scanner_manufacturer": "Canon", "scanner_model": "Aquilion"}) == (
        "Canon Aquilion"
    )
    assert _scanner_name({"scanner_manufacturer": None, "scanner_model": None}) == "–"
