"""Rendering of the monthly report: plain-language alert readings, HTML (Jinja2) and PDF.

The HTML is self-contained: CSS inline, charts as inline SVG, no script, font, image or link to
anything outside the file. The PDF is WeasyPrint's rendering of the same template with the print
CSS (A4, "page X of Y" footer), each chart the same SVG as an image (``chart:<i>``, served by
:func:`_chart_fetcher` as soon as Chromium has drawn it; WeasyPrint styles an image's SVG much
faster than inline SVG, whose nodes would go through the HTML cascade). Its metadata dates are
the snapshot's publication time, so the same snapshot gives the same PDF.

Long tables are cut to a committee-sized selection only where stated in the table's note (the
discordant-cases table: the 20 groups with most AI false negatives); the JSON keeps every row.
"""

from __future__ import annotations

import hashlib
import logging
import math
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from metrics._drift_methods import METHODS
from metrics._grouped import MIN_PER_CLASS
from metrics._monitor import rule_method
from metrics._new_category_words import new_category_status, new_category_subject

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from metrics import Rule
    from reports._charts import Chart, SvgRenderer
    from reports.monthly import MonthlyReport

TEMPLATES = Path(__file__).resolve().parent / "templates"
DASH = "–"
_GROUP_ORDER = ("site", "scanner_manufacturer", "scanner_model", "scanner_software", "modality",
                "finding", "model_name", "model_version")  # fmt: skip
PRETTY = {
    "positive_rate": "AI positive rate", "sensitivity": "Sensitivity",
    "specificity": "Specificity", "discordance": "AI-reference discordance",
    "prevalence": "Prevalence", "label_completeness": "Label completeness",
    "score": "AI score distribution", "volume": "Study volume",
}  # fmt: skip


# ----------------------------------------------------------------------------- numbers
def isnum(x: Any) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and x is not pd.NA


def f2(x: Any, digits: int = 2) -> str:
    return f"{float(x):,.{digits}f}" if isnum(x) else DASH


def pct(x: Any) -> str:
    """A percentage, whole where that is honest: a value short of 100% never reads '100%' and
    one above 0% never '0%' (12 pending of 5,745 is '99.8%', not '100%'); one decimal then,
    and '> 99.9%' / '< 0.1%' beyond it."""
    if not isnum(x):
        return DASH
    v = float(x)
    text = f"{v:.0%}"
    if (text == "100%" and v < 1) or (text == "0%" and v > 0):
        text = f"{v:.1%}"
    if text == "100.0%" and v < 1:
        return "> 99.9%"
    if text == "0.0%" and v > 0:
        return "< 0.1%"
    return text


def signed(x: Any) -> str:
    return f"{float(x):+.2f}".replace("-", "−") if isnum(x) else DASH


def pct1(x: Any) -> str:
    """A proportion in a reading, as the pages give it: '92.0%'."""
    return f"{100 * float(x):.1f}%" if isnum(x) else DASH


def points(x: Any) -> str:
    """A difference of proportions in percentage points, signed: '−5.0'."""
    return f"{100 * float(x):+.1f}".replace("-", "−") if isnum(x) else DASH


def ci(value: Any, low: Any, high: Any) -> str:
    """'0.84 (0.80–0.87)', or the value alone without an interval, or a dash."""
    if not isnum(value):
        return DASH
    if not (isnum(low) and isnum(high)):
        return f2(value)
    return f"{f2(value)} ({f2(low)}–{f2(high)})"


def pct_ci(value: Any, low: Any, high: Any) -> str:
    """'76% (42%–90%)', or the percentage alone without an interval, or a dash."""
    if not isnum(value):
        return DASH
    if not (isnum(low) and isnum(high)):
        return pct(value)
    return f"{pct(value)} ({pct(low)}–{pct(high)})"


#: An I² whose Q-profile interval is empty (metrics.heterogeneity: NaN bounds beside a value
#: and a note), in a table cell and a forest plot's title; the table's note says why.
NO_I2_CI = "no CI: Q-profile interval empty"


def i2_ci(value: Any, low: Any, high: Any) -> str:
    """I² with its Q-profile 95% CI, as the heterogeneity table and the forest plots show it:
    '34% (0%–95.5%)'; '0% (no CI: Q-profile interval empty)' when the interval is empty (the
    groups agree more closely than their standard errors predict), never a bare '0%'; a dash
    when I² is not estimable."""
    if isnum(value) and not (isnum(low) and isnum(high)):
        return f"{pct(value)} ({NO_I2_CI})"
    return pct_ci(value, low, high)


def no_i2_ci_note(alpha: float) -> str:
    """Why an I² has no CI: the sentence under the heterogeneity table and the forest plots."""
    return (
        f"No CI: Cochran's Q is below the {alpha / 2:g} quantile of its chi² distribution, so "
        "the Q-profile interval of tau² and I² is empty: the groups agree more closely than "
        "their standard errors predict. The reason is in the JSON (heterogeneity, i2_note)."
    )


def pval(x: Any) -> str:
    """A p-value as a clinician reads it: '< 0.0001' below that, else two significant digits
    ('0.0035', '0.15'), never '7.4e-40'."""
    if not isnum(x):
        return DASH
    return "< 0.0001" if float(x) < 1e-4 else f"{float(x):.2g}"


def count(x: Any) -> str:
    return f"{int(x):,}" if isnum(x) else DASH


# ----------------------------------------------------------------------------- SPC wording
#: The control-chart methods: their value is a statistic in sigma units (not a difference),
#: they have no p-value, and only the p-chart has limits on the proportion scale (in
#: ci_low / ci_high, which the EWMA uses for its limits on its own scale).
SPC_METHODS = ("p_chart", "cusum", "ewma")
#: Score-distance methods by key, as a reading names them.
_SCORE_NAMES = {"psi": "PSI", "ks": "Kolmogorov-Smirnov D", "wasserstein": "Wasserstein distance"}


def spc_constants(method: str, threshold: float, params: Mapping[str, float]) -> dict[str, float]:
    """The constants a control-chart rule runs with, read off the method the monitor builds
    for it (:func:`metrics.rule_method`: the threshold is its limit, the rest the params given
    or the method's defaults, :mod:`metrics._spc`).

    >>> spc_constants("cusum", 6.5, {})
    {'k': 0.5, 'h': 6.5}
    """
    m = rule_method(method, threshold, params)
    names = {"p_chart": ("L",), "cusum": ("k", "h"), "ewma": ("lam", "L")}[method]
    return {name: float(getattr(m, name)) for name in names}


def spc_method_text(method: str, threshold: float, params: Mapping[str, float]) -> str:
    """The methods-table text of a control-chart rule, with the constants it runs with."""
    c = spc_constants(method, threshold, params)
    if method == "p_chart":
        return (
            f"p-chart, {c['L']:g}-sigma limits from the reference proportion and each month's n "
            "(Montgomery 2013, 7.2); no p-value: a month signals outside the limits"
        )
    if method == "cusum":
        return (
            f"tabular CUSUM on standardized monthly deviations, k = {c['k']:g}, h = {c['h']:g} "
            "(Montgomery 2013, 9.1); no p-value: a month signals when C+ or C− exceeds h"
        )
    return (
        f"EWMA on standardized monthly deviations, lambda = {c['lam']:g}, L = {c['L']:g}, exact "
        "limits (Montgomery 2013, 9.2); no p-value: a month signals when the EWMA is more than "
        "L of its standard deviations from 0"
    )


def _spc_evidence(method: str, c: dict[str, float], v: float, ev: dict[str, Any]) -> str:
    """What a control chart's alert rests on, in words (inside the reading's brackets)."""
    n = f"n = {count(ev['n'])}"
    if method == "p_chart":
        side, limit = ("lower", ev["ci_low"]) if v < 0 else ("upper", ev["ci_high"])
        return (
            f"beyond the {side} {c['L']:g}-sigma p-chart limit {pct1(limit)}: limits "
            f"{pct1(ev['ci_low'])} to {pct1(ev['ci_high'])}, z = {signed(v)}; {n}"
        )
    if method == "cusum":
        side = "downward CUSUM C−" if v < 0 else "upward CUSUM C+"
        return (
            f"the {side} exceeded its decision interval h = {c['h']:g}: C+ − C− = {signed(v)}, "
            f"k = {c['k']:g}; {n}"
        )
    return (
        f"the EWMA of standardized deviations is {signed(v)} of its standard deviations, beyond "
        f"L = {c['L']:g}; lambda = {c['lam']:g}; {n}"
    )


# ----------------------------------------------------------------------------- readings
def group_words(group: dict[str, str], skip: tuple[str, ...] = ()) -> str:
    """Where a group is, in words: 'of ChestXR-Triage for pneumothorax at Site A on the
    Siemens Ysio Max (software VF12B) in CR'. A group by AI model names its model first (two
    models may read the same finding); a model version with its model reads 'of
    ChestXR-Triage version 2.2'."""
    g = {k: v for k, v in group.items() if k not in skip}
    parts = []
    if "model_name" in g:
        version = f" version {g.pop('model_version')}" if "model_version" in g else ""
        parts.append(f"of {g['model_name']}{version}")
    if "finding" in g:
        parts.append(f"for {g['finding']}")
    if "site" in g:
        parts.append(f"at {g['site']}")
    if "scanner_model" in g:
        maker = f"{g['scanner_manufacturer']} " if "scanner_manufacturer" in g else ""
        parts.append(f"on the {maker}{g['scanner_model']}")
    if "scanner_software" in g:
        parts.append(f"(software {g['scanner_software']})")
    if "modality" in g:
        parts.append(f"in {g['modality']}")
    if "model_version" in g:
        parts.append(f"with model version {g['model_version']}")
    return " ".join(parts)


def _running(alert: dict[str, Any]) -> str:
    n = alert["periods"]
    return f"{n} month{'s' if n != 1 else ''} running (since {alert['first_period']})"


def _in_use(alert: dict[str, Any]) -> str:
    """How long a new category has been there: its months count from its first month, months
    without it included ("running" read as without a break)."""
    n = alert["periods"]
    return f"first seen there in {alert['first_period']} ({n} month{'s' if n != 1 else ''} ago, this one included)"


def _current(results: pd.DataFrame, alert: dict[str, Any], month: str) -> float | None:
    """The monitored value behind a proportion alert, from the monitor's results table."""
    if results.empty:
        return None
    rows = results[(results["rule"] == alert["rule"]) & (results["month"] == month)]
    for key, value in alert["group"].items():
        if key in rows.columns and key != alert["metric"]:
            rows = rows[rows[key].astype(str) == value]
    return float(rows["current_value"].iloc[0]) if len(rows) == 1 else None


def _context(alert: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
    """A new software version or scanner at the same place, which may explain the alert."""
    g = alert["group"]
    for other in alerts:
        og = other["group"]
        if other is alert or other["metric"] not in ("scanner_software", "scanner_model"):
            continue
        if og.get("site") != g.get("site"):
            continue
        if "scanner_model" in g and og.get("scanner_model") not in (None, g["scanner_model"]):
            continue
        what = "software" if other["metric"] == "scanner_software" else "scanner model"
        return f"; {what} {og[other['metric']]} first appeared there in {other['first_period']}"
    return ""


def reading(
    alert: dict[str, Any],
    alerts: list[dict[str, Any]],
    results: pd.DataFrame,
    month: str,
    rule: tuple[str, float, Mapping[str, float]] | None = None,
) -> str:
    """One plain-language sentence for one alert; ``rule`` is its rule's method key, threshold
    and params (a control chart's alert is worded by its method)."""
    g, ev, metric, v = alert["group"], alert["evidence"], alert["metric"], alert["value"]
    method = rule[0] if rule else ""
    where = group_words(g, skip=(metric,))
    # a new category (scanner, software, model version): by its rule's method; without the
    # rule, a category alert without a p-value (a chi-square or Jensen-Shannon rule on the same
    # column is a case-mix shift, worded at the end)
    new_category = (
        method == "new_category"
        if rule
        else (metric in ("scanner_model", "scanner_software", "model_version")
              and ev.get("p_value") is None and metric in g)
    )  # fmt: skip
    if metric == "model_version" and new_category:  # the sentence names the model itself
        where = group_words(g, skip=(metric, "model_name"))
        model = g.get("model_name", "?")
        return (
            f"New model version {model} {g.get(metric, '?')} {where}, never seen in the "
            f"reference window: {pct(v)} of this month's studies {model} scored there "
            f"(n = {count(ev['n'])}); {_in_use(alert)}."
        )
    if new_category:
        what = "scanner model" if metric == "scanner_model" else "software version"
        return (
            f"New {what} {g.get(metric, '?')} {where}, never seen in the reference window: "
            f"{pct(v)} of this month's studies there (n = {count(ev['n'])}); "
            f"{_in_use(alert)}."
        )
    if metric in PRETTY and metric not in ("score", "volume"):
        ref, cur = ev.get("reference_value"), _current(results, alert, month)
        verb = "rose" if v > 0 else "fell"
        now = f" to {pct1(cur)}" if cur is not None else ""
        if rule and method in SPC_METHODS:
            c = spc_constants(method, rule[1], rule[2])
            return (
                f"{PRETTY[metric]} {where} {verb} from {pct1(ref)}{now} "
                f"({_spc_evidence(method, c, v, ev)}){_context(alert, alerts)}; "
                f"{_running(alert)}."
            )
        return (
            f"{PRETTY[metric]} {where} {verb} from {pct1(ref)}{now} (difference {points(v)} "
            f"percentage points, 95% CI {points(ev['ci_low'])} to {points(ev['ci_high'])}; "
            f"n = {count(ev['n'])}){_context(alert, alerts)}; {_running(alert)}."
        )
    if metric == "score":
        name = _SCORE_NAMES.get(method, "distance")
        return (
            f"AI score distribution {where} shifted ({name} {f2(v)} above the threshold "
            f"{f2(alert['threshold'])}; n = {count(ev['n'])})"
            f"{_context(alert, alerts)}; {_running(alert)}."
        )
    if metric == "volume":
        verb = "rose" if v > 0 else "fell"
        k = int(ev.get("months_covered") or 1)  # a two-month window's counts are two months'
        mean = "monthly mean" if k == 1 else f"mean for {k} months"
        last = "" if k == 1 else f" in the last {k} months"
        return (
            f"Study volume {where} {verb} by {pct(abs(v))} against the reference {mean} "
            f"({f2(ev.get('reference_value'), 0)} to {count(ev['n'])}{last}); {_running(alert)}."
        )
    return (
        f"Case mix by {metric.replace('_', ' ')} {where} shifted (distance {f2(v)} above the "
        f"threshold {f2(alert['threshold'])}; n = {count(ev['n'])}); {_running(alert)}."
    )


def alert_readings(
    alerts: list[dict[str, Any]],
    results: pd.DataFrame,
    month: str,
    rules: Sequence[Rule] | None = None,
) -> list[str]:
    """The one-line reading of each alert, in the alerts' order.

    ``rules`` (the monitor's) give each alert's method and its params; without them the method
    and threshold come from ``results`` and the params are the method's defaults."""
    known: dict[str, tuple[str, float, Mapping[str, float]]] = {}
    if rules is not None:
        known = {r.name: (r.method, r.threshold, r.params) for r in rules}
    elif not results.empty and "method_key" in results:
        first = results.drop_duplicates("rule")
        known = {r: (m, float(t), {}) for r, m, t in
                 zip(first["rule"], first["method_key"], first["threshold"], strict=True)}  # fmt: skip
    return [reading(a, alerts, results, month, known.get(a["rule"])) for a in alerts]


# ----------------------------------------------------------------------------- tables
def _table(
    df: pd.DataFrame, columns: list[tuple[str, Any]], *, title: str, note: str = ""
) -> dict[str, Any]:
    """A table view: header labels and rows of formatted cells.

    ``columns`` pairs a header with a column name or a function of the row.
    """
    rows = []
    for row in df.to_dict("records"):
        rows.append([fn(row) if callable(fn) else _cell(row.get(fn)) for _, fn in columns])
    return {"title": title, "header": [h for h, _ in columns], "rows": rows, "note": note}


def _cell(x: Any) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f2(x)
    if isinstance(x, int):
        return count(x)
    return DASH if not isnum(x) else str(x)


#: Estimates a report table gives as percentages, as the dashboard and the readings do; AUC,
#: kappa and AC1 are coefficients (3 decimals on the pages, 2 here).
_PERCENT_ESTIMATES = ("sensitivity", "specificity", "accuracy", "agreement", "ppv", "npv",
                      "prevalence")  # fmt: skip


def pct1_ci(value: Any, low: Any, high: Any) -> str:
    """'92.1% (88.0–95.0%)', or the percentage alone without an interval, or a dash."""
    if not isnum(value):
        return DASH
    if not (isnum(low) and isnum(high)):
        return pct1(value)
    return f"{pct1(value)} ({100 * float(low):.1f}–{pct1(high)})"


def _est(name: str, prefix: str = "") -> Any:
    shown = pct1_ci if name in _PERCENT_ESTIMATES else ci
    return lambda r: shown(r.get(prefix + name), r.get(f"{prefix}{name}_low"),
                           r.get(f"{prefix}{name}_high"))  # fmt: skip


def _no_rule_note(has_rule: bool, rule: str) -> str:
    """A table's note when the alert rules have no rule of the kind it is drawn from: its
    "None this month" then means "not checked", not "none found"."""
    if has_rule:
        return ""
    return f"Not checked: the alert rules have no {rule}."


def _volume_tables(rep: MonthlyReport) -> list[dict[str, Any]]:
    from reports.monthly import site_volume_rules  # noqa: PLC0415 (monthly imports this module)

    t = rep.tables
    comp = [("Predictions", "n"), ("Labelled", "labelled"), ("Pending", "pending"),
            ("Label completeness", lambda r: pct(r["completeness"]))]  # fmt: skip
    vol = t["volume_by_month"]
    vol = vol[vol["month"] == rep.month] if not vol.empty else vol
    out = [_table(vol, [("Site", "site"), ("Studies", lambda r: count(r["n"])),
                        ("Reference monthly mean", lambda r: f2(r["reference_value"], 0)),
                        ("Change", lambda r: pct(r["value"])), ("Status", "status"),
                        ("Rules drifting", lambda r: r["drifting_rules"] or DASH)],
                  title=f"Studies by site, {rep.month}",
                  note=_no_rule_note(bool(site_volume_rules(rep.settings.rules)),
                                     "poisson volume rule grouped by site alone "
                                     "(window_months 1)"))]  # fmt: skip
    out.append(_table(t["volume_predictions_site"], [("Site", "site"), *comp],
                      title="AI predictions and label completeness by site"))  # fmt: skip
    out.append(_table(t["volume_predictions_scanner"],
                      [("Manufacturer", "scanner_manufacturer"), ("Scanner", "scanner_model"),
                       *comp], title="By scanner"))  # fmt: skip
    out.append(_table(t["volume_predictions_modality"], [("Modality", "modality"), *comp],
                      title="By modality"))  # fmt: skip
    return out


def _ref_last(name: str) -> Any:
    """'85.0% / 83.1%' (a proportion) or '0.85 / 0.83': the reference window's and last
    month's estimate, in one cell."""
    shown = pct1 if name in _PERCENT_ESTIMATES else f2
    return lambda r: f"{shown(r.get(f'reference_{name}'))} / {shown(r.get(f'previous_{name}'))}"


FOREST_METRICS = ("sensitivity", "specificity")
_PERF_LABELS = {"site": "Site", "scanner": "Scanner", "modality": "Modality", "finding": ""}


def _scanner_name(row: Any) -> str:
    """Manufacturer and model; either may be missing (scanner_manufacturer is optional in a
    prediction file): it read "nan Brand"."""
    parts = [row.get(c) for c in ("scanner_manufacturer", "scanner_model")]
    return " ".join(str(p) for p in parts if isinstance(p, str) and p) or DASH


def _performance_tables(rep: MonthlyReport) -> list[dict[str, Any]]:
    out = []
    for dim, label in _PERF_LABELS.items():
        df = rep.tables[f"performance_{dim}"]
        key: list[tuple[str, Any]] = []
        if dim == "scanner":
            key = [("Scanner", _scanner_name)]
        elif label:
            key = [(label, dim)]
        cols = [*key, ("Finding", "finding"), ("Labelled", lambda r: count(r["n_labelled"])),
                ("Sensitivity (95% CI)", _est("sensitivity")),
                ("Ref. / last mo.", _ref_last("sensitivity")),
                ("Specificity (95% CI)", _est("specificity")),
                ("Ref. / last mo.", _ref_last("specificity")),
                ("AUC (95% CI)", _est("auc")),
                ("Ref.", lambda r: f2(r.get("reference_auc")))]  # fmt: skip
        title = f"Performance by {dim}" if label else "Performance by finding (all sites)"
        out.append(_table(df, cols, title=f"{title}, {rep.month}", note=not_estimable_note(rep)))
    return out


def not_estimable_note(rep: MonthlyReport) -> str:
    """What a dash in an estimate cell means (the minima of :func:`metrics.summarize`)."""
    k = MIN_PER_CLASS
    return (
        f"A dash: not estimable. Every estimate needs {rep.settings.min_n} labelled cases; "
        f"sensitivity also {k} reference-positive cases, specificity {k} reference-negative, "
        f"AUC and kappa {k} of each; an estimate whose standard error is 0 (an AUC of a "
        "complete separation, a kappa of an AI that calls one category only) has no interval "
        "and is not shown. The reason of each is in the JSON (not_estimable)."
    )


def _het_table(rep: MonthlyReport) -> dict[str, Any]:
    """One row per finding and dimension, sensitivity and specificity side by side."""
    title = "Heterogeneity across sites and scanners, this month"
    df = pd.DataFrame(rep.heterogeneity)
    if df.empty or "i2" not in df:
        return _table(df.iloc[0:0], [], title=title)
    df = df[df["k"] >= 2]
    keys = ["finding", "model_name", "dimension"]
    sens, spec = (df[df["metric"] == m].drop(columns="metric") for m in FOREST_METRICS)
    both = sens.merge(spec, on=keys, how="outer", suffixes=("_sens", "_spec"), sort=True)
    cols: list[tuple[str, Any]] = [("Finding", "finding"), ("Across", "dimension")]
    for m, label in (("sens", "Sens."), ("spec", "Spec.")):
        cols += [
            (f"{label} k", lambda r, m=m: count(r[f"k_{m}"])),
            (f"{label} I² (95% CI)", lambda r, m=m: i2_ci(
                r[f"i2_{m}"], r[f"i2_low_{m}"], r[f"i2_high_{m}"])),
            ("Q test p", lambda r, m=m: pval(r[f"q_p_value_{m}"])),
            (f"{label} pooled (95% CI)", lambda r, m=m: ci(
                r[f"pooled_reml_{m}"], r[f"pooled_reml_low_{m}"], r[f"pooled_reml_high_{m}"])),
        ]  # fmt: skip
    note = ("k: groups with enough cases. I²: from the REML tau², with its Q-profile 95% CI. "
            "Pooled: random-effects (REML) estimate on the logit scale. Cochran's Q, its df and "
            "tau² (REML with its Q-profile CI, DerSimonian-Laird) of each row are in the JSON "
            "(heterogeneity).")  # fmt: skip
    empty = df["i2"].notna() & (df["i2_low"].isna() | df["i2_high"].isna())
    if empty.any():
        note += " " + no_i2_ci_note(rep.settings.alpha)
    return _table(both, cols, title=title, note=note)


def _drift_tables(rep: MonthlyReport) -> list[dict[str, Any]]:
    t = rep.tables
    columns: list[tuple[str, Any]] = [("Rule", "rule"), ("Groups ok", "ok"), ("Drift", "drift")]
    if "known" in t["drift_checks"] and t["drift_checks"]["known"].any():
        columns.append(("Known, no alert", "known"))  # new values past their rule's alert_months
    columns.append(("Insufficient data", "insufficient data"))
    checks = _table(t["drift_checks"], columns,
                    title="Drift checks this month (groups per rule)")  # fmt: skip
    new_rows = t["new_categories"]
    if len(new_rows):
        min_n = {r.name: r.min_n for r in rep.settings.rules}
        persistence = {r.name: r.persistence for r in rep.settings.rules}
        new_rows = new_rows.assign(status_words=new_category_status(new_rows, min_n, persistence))
    new = _table(new_rows, [("What", lambda r: NEW_WHAT.get(r["metric"],
                                                             r["metric"].replace("_", " "))),
                            ("Site", "site"),
                                       ("Scanner", lambda r: DASH if r.get("metric") == "model_version"
                                        else _cell(new_category_subject(r) or None)),
                                       ("Model", lambda r: _cell(r.get("model_name"))),
                                       ("New value", "category"), ("Studies", lambda r: count(r["n"])),
                                       ("Share", lambda r: pct(r["value"])),
                                       ("Months running (or why not judged)", _new_months)],
                 title="New scanners, software and AI model versions (never seen in the "
                       "reference)",
                 note=_no_rule_note(any(r.method == "new_category" for r in rep.settings.rules),
                                    "new_category rule"))  # fmt: skip
    found = t["drift_findings"]
    found = found[~found["metric"].isin(["scanner_model", "scanner_software", "model_version"])] \
        if len(found) \
        else found  # fmt: skip
    spc = bool(len(found)) and bool(found["method_key"].isin(SPC_METHODS).any())
    drifting = _table(found, [
        ("Rule", "rule"), ("Group", lambda r: group_words({k: str(r[k]) for k in _GROUP_ORDER
                                                     if k in r and isnum(r[k])})),
        ("n", lambda r: count(r["n"])), ("Month", lambda r: f2(r["current_value"])),
        ("Ref.", lambda r: f2(r["reference_value"])), ("Effect", effect_words),
        ("95% CI or limits", interval_words), ("p adj.", lambda r: pval(r["p_adjusted"])),
        ("Months", "periods"),
    ], title="Groups drifting this month (before the persistence requirement)",
        note="Effect: the rule's measure (a difference of proportions, a relative change of "
             "volume, a distance); for a control chart a statistic in sigma units, marked z "
             "(p-chart), C+ − C− (CUSUM) or EWMA/sd. The interval is the 95% CI of the effect, "
             "or for a p-chart its control limits on the proportion scale; control charts "
             "have no p-value." if spc else "")  # fmt: skip
    new["cls"] = "wrap-last"  # a reason why a row was not judged wraps in its cell
    return [checks, new, drifting]


#: A new category's attribute (the new_category rule's metric), as the report names it.
NEW_WHAT = {"model_version": "AI model version", "scanner_model": "scanner model",
             "scanner_software": "scanner software version"}  # fmt: skip


def _new_months(r: dict[str, Any]) -> str:
    """The months a new category has run as drift, or why the rule could not judge it
    (:func:`metrics.new_category_status`): a bare 0 would read as 'judged, no drift'. A drift
    shorter than the rule's persistence says so after its months: it raises no alert yet."""
    words = str(r.get("status_words", ""))
    if words.startswith("not judged"):
        return words
    _, _, why = words.partition(": ")
    return f"{count(r['periods'])} ({why})" if why else count(r["periods"])


_SPC_MARK = {"p_chart": "z", "cusum": "C+ − C−", "ewma": "EWMA/sd"}


def effect_words(r: dict[str, Any]) -> str:
    """A drifting group's effect; a control chart's statistic is marked as such."""
    mark = _SPC_MARK.get(str(r.get("method_key")))
    return f"{mark} = {signed(r['value'])}" if mark else f2(r["value"])


def interval_words(r: dict[str, Any]) -> str:
    """The effect's 95% CI; a p-chart's control limits (named); nothing for the CUSUM and EWMA,
    whose ci columns hold no interval of the effect."""
    method = str(r.get("method_key"))
    if method in ("cusum", "ewma") or not (isnum(r["ci_low"]) and isnum(r["ci_high"])):
        return DASH
    text = f"{f2(r['ci_low'])} to {f2(r['ci_high'])}"
    return f"limits {text}" if method == "p_chart" else text


#: The discordant-cases table of the HTML / PDF shows at most this many site x finding groups.
MAX_DISCORDANT_ROWS = 20


def _more(n: int, table: str) -> str:
    """'; 7 more in the JSON (tables.x)' when rows were left out of the document."""
    return f"; {n} more in the JSON (tables.{table}) and on the dashboard" if n > 0 else ""


def _agreement_tables(rep: MonthlyReport) -> list[dict[str, Any]]:
    t = rep.tables
    f = t["performance_finding"]
    agree = _table(f, [("Finding", "finding"), ("Model", "model_name"),
                       ("Labelled", lambda r: count(r["n_labelled"])),
                       ("Agreement (95% CI)", _est("agreement")),
                       ("Ref.", lambda r: pct1(r.get("reference_agreement"))),
                       ("Cohen's kappa (95% CI)", _est("kappa")),
                       ("Ref.", lambda r: f2(r.get("reference_kappa")))],
                   title=f"AI vs reference standard, {rep.month}")  # fmt: skip
    site = t["performance_site"]
    site = site[(site["fn"] > 0) | (site["fp"] > 0)]
    keys = [c for c in ("site", "finding", "model_name") if c in site.columns]
    shown = site.sort_values(["fn", "fp", *keys], ascending=[False, False, *[True] * len(keys)],
                             kind="stable").head(MAX_DISCORDANT_ROWS)  # fmt: skip
    more = len(site) - len(shown)
    disc = _table(shown, [("Site", "site"), ("Finding", "finding"),
                          ("Labelled", lambda r: count(r["n_labelled"])),
                          ("AI false negatives", lambda r: count(r["fn"])),
                          ("AI false positives", lambda r: count(r["fp"])),
                          # one row per model of a site and finding (its versions pooled)
                          ("Model", "model_name")],
                  title="Discordant cases to review (AI vs reference standard)",
                  note=f"Site x finding x model groups (model versions pooled) with at least one "
                       f"discordant case, most AI false "
                       f"negatives first{_more(more, 'performance_site')}. The cases are listed, "
                       "pseudonymised, on the dashboard's discordant cases page.")  # fmt: skip
    out = [agree]
    if "reader_agreement" in t:
        out.append(_table(t["reader_agreement"], [
            ("Finding", "finding"), ("Double-read", lambda r: count(r.get("n_items"))),
            ("Cohen's kappa (95% CI)", _est("kappa")),
            ("Agreement (95% CI)", _est("agreement")),
            ("Read 3+ times", lambda r: count(r.get("n_items_3"))),
            ("Fleiss' kappa (95% CI)", _est("fleiss_kappa")),
            ("Gwet's AC1 (95% CI)", _est("ac1")),
        ], title="Reader vs reader, studies read by more than one radiologist",
            note="A dash: no study of that finding had enough reads, or the coefficient is not "
                 "estimable: a reader used one category only (kappa is then 0 by construction) "
                 "or the variance is 0 (perfect agreement), which would give a zero-width "
                 "interval. The reason of each is in the JSON (note). Agreement of 100% has "
                 "the Wilson interval."))  # fmt: skip
    return [*out, disc]


def _pending_tables(rep: MonthlyReport) -> list[dict[str, Any]]:
    t = rep.tables
    out = []
    if "estimated_performance" in t:
        df = t["estimated_performance"]
        method = str(df["method"].iloc[0]) if "method" in df and len(df) else ""
        out.append(_table(df, [
            ("Site", "site"), ("Finding", "finding"),
            ("AI model", lambda r: f"{r['model_name']} {r['model_version']}"),
            ("Pending", lambda r: count(r.get("n_pending", r["n"]))),
            ("Estimated", lambda r: count(r["n"])),
            ("Est. sensitivity (95% CI)", _est("sensitivity")),
            ("Est. specificity (95% CI)", _est("specificity")),
            ("Est. accuracy (95% CI)", _est("accuracy")),
        ], title="Estimated performance (ESTIMATES, not yet confirmed by reads)",
            note=f"Studies of this month without a read, per AI model and version (two models "
                 f"reading one finding are different products). {method}. A dash: not estimable "
                 f"(sensitivity needs {MIN_PER_CLASS} expected positive cases, specificity "
                 f"{MIN_PER_CLASS} expected negative; an estimate fixed by construction, such as the specificity of an "
                 "AI that called every pending case negative, has no interval); the reason of "
                 "each is in the JSON (not_estimable)."))  # fmt: skip
    out.append(_table(t["pending_by_week"], [
        ("ISO week", "period"),
        ("Days", lambda r: f"{r['days']} (partial week)" if r.get("partial") else r.get("days", "")),
        ("Predictions", "n"), ("Labelled", "labelled"), ("Pending", "pending"),
        ("Completeness", lambda r: pct(r["completeness"]))],
        title="Reads pending by ISO week (this month and last)"))  # fmt: skip
    return out


def _methods_tables(rep: MonthlyReport) -> list[dict[str, Any]]:
    meth = pd.DataFrame({"what": list(rep.methods), "method": list(rep.methods.values())})
    versions = _table(rep.tables["model_versions"], [
        ("Model", "model_name"), ("Version", "model_version"), ("First month", "first_month"),
        ("Last month", "last_month"), ("Predictions", "predictions")],
        title="Model versions seen (reference window to this month)")  # fmt: skip
    return [_table(meth, [("What", "what"), ("Method", "method")], title="Methods"), versions]


# ----------------------------------------------------------------------------- documents
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def context(rep: MonthlyReport) -> dict[str, Any]:
    """Everything the template shows, formatted (charts apart)."""
    perf_site = rep.tables["performance_finding"]
    return {
        "r": rep,
        "published": rep.published_at.strftime("%Y-%m-%d %H:%M") if rep.published_at else DASH,
        "published_date": rep.published_at.date().isoformat() if rep.published_at else "",
        "alerts": list(zip(rep.alerts, rep.readings, strict=True)),
        "headline": _table(
            perf_site,
            [
                ("Finding", "finding"),
                ("Model", "model_name"),
                ("Predictions", lambda r: count(r["n"])),
                ("Labelled", lambda r: count(r["n_labelled"])),
                ("Sensitivity (95% CI)", _est("sensitivity")),
                ("Specificity (95% CI)", _est("specificity")),
                ("AUC (95% CI)", _est("auc")),
            ],
            title=f"All sites, {rep.month}",
        ),  # fmt: skip
        "volume": _volume_tables(rep),
        "performance": _performance_tables(rep),
        "het": _het_table(rep),
        "drift": _drift_tables(rep),
        "agreement": _agreement_tables(rep),
        "pending": _pending_tables(rep),
        "methods": _methods_tables(rep),
        "corrections": ", ".join(
            sorted({r.correction for r in rep.settings.rules if METHODS[r.method].has_test})
        ),  # fmt: skip
        "min_class": MIN_PER_CLASS,
    }


def _by_section(charts: list[Chart], bodies: list[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for chart, body in zip(charts, bodies, strict=True):
        out.setdefault(chart.section, []).append((chart.caption, body))
    return out


def _chart_fetcher(svgs: list[Future[str]]) -> Any:
    """WeasyPrint's only source of resources: ``chart:<i>`` is chart i's SVG, nothing else.

    A chart is waited for when WeasyPrint first needs it, so the HTML parsing and styling of
    the PDF run while Chromium still draws. Any other URL stops the rendering: the report is
    self-contained and loads nothing from the network or the disk.
    """
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: PLC0415

    class ChartFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            scheme, _, index = url.partition(":")
            if scheme != "chart" or not index.isdigit() or int(index) >= len(svgs):
                raise ValueError(f"the report must not load external resources; it asked for "
                                 f"{url!r}; expected chart:0 .. chart:{len(svgs) - 1}")  # fmt: skip
            body = svgs[int(index)].result().encode()
            return URLFetcherResponse(url, body, headers={"Content-Type": "image/svg+xml"})

    return ChartFetcher(allowed_protocols=("chart",), fail_on_errors=True)


def render_documents(rep: MonthlyReport, renderer: SvgRenderer | None = None) -> tuple[str, bytes]:
    """The self-contained HTML document and the PDF bytes of the report.

    Each chart is drawn once (kaleido, SVG) and used by both: inline ``<svg>`` in the HTML,
    an SVG image in the PDF. While Chromium draws, the tables are formatted and WeasyPrint
    parses and styles the document. Pass a running ``renderer`` to reuse a Chromium started
    earlier (see :func:`reports.monthly.write_monthly_report`).
    """
    from reports._charts import SvgRenderer, iter_charts  # noqa: PLC0415

    if renderer is None:
        with SvgRenderer() as own:
            return render_documents(rep, own)
    charts: list[Chart] = []
    svgs: list[Future[str]] = []
    for chart in iter_charts(rep):  # each chart goes to Chromium as soon as it is built
        svgs.append(renderer.submit(chart, len(charts)))
        charts.append(chart)
    env = _environment()
    css = (TEMPLATES / "report.css").read_text()
    template = env.get_template("monthly.html.j2")
    ctx = context(rep)
    images = [f'<img class="chart" src="chart:{i}" alt="">' for i in range(len(charts))]
    print_html = template.render(css=css, svgs=_by_section(charts, images), **ctx)
    doc = _pdf_document(print_html, _chart_fetcher(svgs))
    html = template.render(css=css, svgs=_by_section(charts, [f.result() for f in svgs]), **ctx)
    return html, _pdf_bytes(doc, rep, html)


def _pdf_document(html: str, fetcher: Any) -> Any:
    """WeasyPrint's layout of the print HTML (A4, page X of Y)."""
    import weasyprint  # noqa: PLC0415
    from weasyprint.urls import FatalURLFetchingError  # noqa: PLC0415

    log = logging.getLogger("weasyprint")
    level = log.level
    log.setLevel(logging.ERROR)  # plotly's SVG styles give hundreds of harmless CSS warnings
    try:
        return weasyprint.HTML(string=html, url_fetcher=fetcher).render()
    except FatalURLFetchingError as err:  # a chart failed (or a URL was refused): its own error
        raise (err.__cause__ or err) from None
    finally:
        log.setLevel(level)


def _pdf_bytes(doc: Any, rep: MonthlyReport, html: str) -> bytes:
    """The PDF with fixed metadata dates and an identifier derived from the HTML."""
    # the snapshot's publication time (naive UTC), never the wall clock
    stamp = rep.published_at.strftime("%Y-%m-%dT%H:%M:%SZ") if rep.published_at else None
    doc.metadata.created = stamp
    doc.metadata.modified = stamp
    ident = hashlib.sha256(html.encode()).hexdigest()[:32].encode()
    return bytes(doc.write_pdf(pdf_identifier=ident))
