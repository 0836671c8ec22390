"""The monthly drift report: one data object from metrics, written as HTML, PDF and JSON.

:func:`build_monthly_report` gathers every table of the report from :mod:`metrics` (the same
functions the dashboard calls, so a number in the report and on a page agree) into a
:class:`MonthlyReport`. :func:`write_monthly_report` opens the published snapshot, builds the
report and writes ``drift-report-YYYY-MM.html``, ``.pdf`` and ``.json``. Nothing here computes a
statistic: tables are selected, joined and sorted, never estimated.

Running it twice for the same month and snapshot gives the same files: no wall-clock time enters
the content (the only date is the snapshot's ``published_at``), every table is sorted, and chart
ids are derived from the chart's position.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from metrics import (
    METHODS,
    Filters,
    MonitorResult,
    MonthData,
    ReferenceWindow,
    Rule,
    data_dir_reference,
    data_dir_rules,
    default_rules,
    estimate_performance,
    heterogeneity,
    label_completeness,
    model_versions,
    monitor,
    month_data,
    summarize,
)
from metrics._cache import disk_read_only
from metrics._periods import ResolvedReference, add_months, check_month, month_start
from radqa.errors import InputError
from radqa.store import open_snapshot, snapshot_info
from reports._render import SPC_METHODS, alert_readings, spc_method_text

#: Performance tables: name -> group columns (always followed by finding and model name).
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "site": ("site",),
    "scanner": ("scanner_manufacturer", "scanner_model"),
    "modality": ("modality",),
    "finding": (),
}
#: Forest plots / heterogeneity: across which groups, for which proportions (count, nobs).
FOREST_DIMENSIONS = {"site": "site", "scanner": "scanner_model"}
FOREST_METRICS = {"sensitivity": ("tp", ("tp", "fn")), "specificity": ("tn", ("tn", "fp"))}
_CARRY = ["n", "n_labelled", "pending", "tp", "fp", "fn", "tn", "insufficient", "not_estimable"]
_ESTIMATES = ["sensitivity", "specificity", "ppv", "npv", "prevalence", "auc", "kappa", "agreement"]
REPORT_VERSION = 1


@dataclass(frozen=True)
class ReportSettings:
    """What the report is computed with; all of it is written into the JSON.

    ``min_n`` applies to the performance tables (:func:`metrics.summarize`); each alert rule
    carries its own ``min_n``, ``alpha`` and multiplicity correction.
    """

    reference: ReferenceWindow = field(default_factory=lambda: ReferenceWindow.first_months(6))
    rules: tuple[Rule, ...] = field(default_factory=lambda: tuple(default_rules()))
    rules_source: str = "<default rules>"
    #: how the reference window was chosen (:func:`metrics._rules.data_dir_reference`)
    reference_source: str = "the first 6 months of data"
    alpha: float = 0.05
    min_n: int = 30


@dataclass
class MonthlyReport:
    """Everything the monthly report shows, before rendering.

    ``tables`` maps a stable name to a DataFrame (sorted); ``readings`` are the one-line
    plain-language readings of ``alerts`` (same order); ``notes`` say what could not be shown.
    ``data_received`` counts the month's studies and AI predictions; ``headline`` is None, or
    the warning the report opens with when the month has no AI predictions at all.
    """

    month: str
    previous_month: str
    snapshot_id: str | None
    published_at: dt.datetime | None
    reference: ResolvedReference
    settings: ReportSettings
    alerts: list[dict[str, Any]]
    readings: list[str]
    tables: dict[str, pd.DataFrame]
    heterogeneity: list[dict[str, Any]]
    methods: dict[str, str]
    notes: list[str]
    monitor: MonitorResult = field(repr=False)
    data_received: dict[str, Any] = field(default_factory=dict)
    headline: str | None = None

    def settings_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values."""
        corrections = sorted({r.correction for r in self.settings.rules})
        return {
            "reference_window": {
                "first": self.reference.first,
                "last": self.reference.last,
                "model_version": self.reference.model_version,
                "label": self.reference.label,
                "chosen": self.settings.reference_source,
                "note": self.reference.note,
            },
            "alpha": self.settings.alpha,
            "min_n": self.settings.min_n,
            "multiplicity": {
                "methods": corrections,
                "scope": "per rule, across the groups of one month",
            },
            "rules_source": self.settings.rules_source,
            "rules": [_plain(asdict(r)) for r in self.settings.rules],
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON document: every table, the snapshot, the settings and the alerts."""
        return {
            "report": "monthly drift report",
            "report_version": REPORT_VERSION,
            "month": self.month,
            "previous_month": self.previous_month,
            "snapshot_id": self.snapshot_id,
            "snapshot_published_at": _iso(self.published_at),
            "headline": self.headline,
            "data_received": _plain(self.data_received),
            "settings": self.settings_dict(),
            "alerts": [_plain(a) for a in self.alerts],
            "readings": list(self.readings),
            "heterogeneity": [_plain(h) for h in self.heterogeneity],
            "tables": {name: records(df) for name, df in self.tables.items()},
            "methods": dict(self.methods),
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------- helpers
def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


#: Floats in the JSON keep this many significant digits: DuckDB's parallel sums (the CBPE's
#: expected counts, for one) differ in the last bit or two between runs, and the same snapshot
#: must give byte-identical JSON. 12 digits are far beyond any figure's precision.
JSON_DIGITS = 12


def _plain(value: Any) -> Any:
    """JSON-safe copy: NaN -> None, numpy scalars -> Python, tuples -> lists, dates -> ISO,
    floats rounded to :data:`JSON_DIGITS` significant digits."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float):  # parallel sums differ in the last bits from run to run
        return float(f"{value:.{JSON_DIGITS}g}")
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as JSON-safe records (column order kept)."""
    return [_plain(r) for r in df.to_dict("records")]


def month_filters(first: str, last: str, model_version: str | None = None) -> Filters:
    """Filters for the study dates of the months ``first..last`` (both included)."""
    end = month_start(add_months(last, 1)) - dt.timedelta(days=1)
    versions = (model_version,) if model_version else ()
    return Filters(date_from=month_start(first), date_to=end, model_version=versions)


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    keys = [k for k in keys if k in df.columns]
    if not keys or df.empty:
        return df.reset_index(drop=True)
    return df.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


# ----------------------------------------------------------------------------- sections
def _performance(
    con: duckdb.DuckDBPyConnection, report_month: str, ref: ResolvedReference, s: ReportSettings
) -> dict[str, pd.DataFrame]:
    """Per dimension: this month's estimates with the reference window's and last month's."""
    prev = add_months(report_month, -1)
    out = {}
    for name, dims in DIMENSIONS.items():
        by = (*dims, "finding", "model_name")
        recent = summarize(
            con, by=by, filters=month_filters(prev, report_month, ref.model_version),
            period="month", alpha=s.alpha, min_n=s.min_n,
        )  # fmt: skip
        base = summarize(
            con, by=by, filters=month_filters(ref.first, ref.last, ref.model_version),
            alpha=s.alpha, min_n=s.min_n,
        )  # fmt: skip
        keys = list(by)
        est_cols = [c for e in _ESTIMATES for c in (e, f"{e}_low", f"{e}_high")]
        cur = recent[recent["period"] == report_month][[*keys, *_CARRY, *est_cols]]
        last = recent[recent["period"] == prev][[*keys, "n_labelled", *_ESTIMATES]]
        last = last.rename(columns={c: f"previous_{c}" for c in ["n_labelled", *_ESTIMATES]})
        ref_cols = ["n_labelled", *est_cols]
        refd = base[[*keys, *ref_cols]].rename(columns={c: f"reference_{c}" for c in ref_cols})
        table = cur.merge(refd, on=keys, how="left").merge(last, on=keys, how="left")
        out[f"performance_{name}"] = _sorted(table, keys)
    return out


def _forests(
    tables: dict[str, pd.DataFrame], alpha: float
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """Heterogeneity across sites and scanners per finding (groups with enough cases)."""
    summaries: list[dict[str, Any]] = []
    rows: list[pd.DataFrame] = []
    for dim, col in FOREST_DIMENSIONS.items():
        table = tables[f"performance_{dim}"]
        for (finding, model), part in table.groupby(["finding", "model_name"], sort=True):
            for metric, (count, parts) in FOREST_METRICS.items():
                nobs = part[parts[0]] + part[parts[1]]
                use = part[
                    (~part["insufficient"].astype(bool)) & (nobs > 0) & part[metric].notna()
                ]  # a group whose estimate is not estimable (min_class, SE 0) is left out
                if use.empty:
                    continue
                groups = use[[col, metric, f"{metric}_low", f"{metric}_high"]].copy()
                groups.columns = ["label", "value", "low", "high"]
                groups.insert(0, "metric", metric)
                groups.insert(0, "dimension", dim)
                groups.insert(0, "model_name", model)
                groups.insert(0, "finding", finding)
                groups["nobs"] = (use[parts[0]] + use[parts[1]]).astype("int64")
                rows.append(groups)
                entry: dict[str, Any] = {
                    "finding": finding, "model_name": model, "dimension": dim,
                    "metric": metric, "k": len(use),
                }  # fmt: skip
                if len(use) >= 2:
                    h = heterogeneity(
                        pd.DataFrame({"label": use[col], "count": use[count], "nobs": nobs[use.index]}),
                        scale="logit", alpha=alpha,
                    )  # fmt: skip
                    entry |= {
                        "q": h.q, "q_df": h.q_df, "q_p_value": h.q_p_value,
                        "i2": h.i2.value, "i2_low": h.i2.low, "i2_high": h.i2.high,
                        "i2_note": h.i2.note,
                        "tau2": h.tau2.value, "tau2_low": h.tau2.low, "tau2_high": h.tau2.high,
                        "tau2_dl": h.tau2_dl, "tau2_reml": h.tau2_reml,
                        "pooled_reml": h.random_reml.value, "pooled_reml_low": h.random_reml.low,
                        "pooled_reml_high": h.random_reml.high,
                    }  # fmt: skip
                summaries.append(entry)
    groups_df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return summaries, groups_df


def _drift_tables(result: MonitorResult, month: str) -> dict[str, pd.DataFrame]:
    """The drift section's tables. The p-chart of the AI positive rate and the label
    completeness come from the monitor whatever the rules; the others from the rules' results,
    empty when no rule has a row this month (a rules file of one new_category rule and no new
    category)."""
    res = result.results
    spc = result.spc
    spc = spc[spc["metric"] == "positive_rate"] if not spc.empty else spc
    always = {
        "positive_rate_spc": _sorted(spc, ["site", "finding", "month"]),
        "completeness_by_month": _sorted(result.label_completeness, ["site", "finding", "month"]),
    }
    if res.empty:
        empty = pd.DataFrame()
        return dict.fromkeys(("drift_checks", "drift_findings", "volume_by_month",
                              "new_categories", "score_histograms"), empty) | always  # fmt: skip
    dims = [c for c in ("site", "scanner_manufacturer", "scanner_model", "scanner_software",
                        "modality", "finding", "model_name", "model_version")
            if c in res.columns]  # fmt: skip
    this = res[res["month"] == month]
    # a new value past its rule's alert_months drifts against the reference but is known: counted
    # apart and listed with the new categories, not among the drifting groups
    known = this["known"].fillna(False).astype(bool) if "known" in this else False
    this = this.assign(status=this["status"].where(~known, "known"))
    checks = (
        this.groupby(["rule", "method", "status"], sort=True).size().unstack(fill_value=0)
        .reindex(columns=["ok", "drift", "known", "insufficient data"], fill_value=0)
        .reset_index()
    )  # fmt: skip
    order = {r.name: i for i, r in enumerate(result.rules)}
    checks = checks.sort_values("rule", key=lambda s: s.map(order)).reset_index(drop=True)
    keep = ["rule", "method_key", "metric", *dims, "category", "n", "n_reference", "current_value",
            "reference_value", "value", "ci_low", "ci_high", "p_adjusted", "periods"]  # fmt: skip
    drifting = _sorted(this[this["status"] == "drift"][keep], ["rule", *dims, "category"])
    volume = _site_volume(res, result.rules)
    hist = _selected_histograms(result, month)
    return {
        "drift_checks": checks,
        "drift_findings": drifting,
        "volume_by_month": volume,
        "new_categories": _sorted(
            result.new_categories[
                [
                    "rule",
                    "metric",
                    *[d for d in dims if d in result.new_categories.columns],
                    "category",
                    "n",
                    "n_reference",
                    "value",
                    "status",
                    "periods",
                    "month",  # with periods: in use since; a known category says so
                    "first_alert",
                    "alert_until",
                    "known",
                ]
            ],
            ["rule", "site", "scanner_model", "category"],
        )
        if not result.new_categories.empty
        else pd.DataFrame(),  # fmt: skip
        "score_histograms": hist,
    } | always


def _unchecked_note(checks: pd.DataFrame, rules: tuple[Rule, ...]) -> str | None:
    """The rules that could not judge every group this month for lack of data, by name."""
    if checks.empty:
        return None
    min_n = {r.name: r.min_n for r in rules}
    none, some = [], []
    for r in checks.to_dict("records"):
        short = int(r["insufficient data"])
        total = short + int(r["ok"]) + int(r["drift"])
        if not short:
            continue
        text = (
            f"'{r['rule']}' ({short} of {total} groups below min_n = {min_n.get(r['rule'])} rows)"
        )
        (none if short == total else some).append(text)
    if not none and not some:
        return None
    parts = []
    if none:
        parts.append(f"Checks that could not run for lack of data this month: {'; '.join(none)}.")
    if some:
        parts.append(f"Checks that ran on part of the groups only: {'; '.join(some)}.")
    return " ".join(parts) + (
        " A group below a rule's min_n is neither ok nor drifting: a shift there goes unseen."
    )


def _known_note(new: pd.DataFrame, rules: tuple[Rule, ...]) -> str | None:
    """The new scanners, software and model versions that are known this month: they alerted
    for their rule's ``alert_months`` and are listed in section 4 with no alert (one entry per
    new value, its sites counted, in use since its earliest month), and how to monitor one
    against its own baseline. A few rows (one per new value and site)."""
    if new.empty or "known" not in new:
        return None
    known = new[new["known"].fillna(False).astype(bool)]
    if known.empty:
        return None
    entries: dict[str, tuple[set[str], str]] = {}
    for r in known.to_dict("records"):
        name = _known_name(r)
        since = add_months(str(r["month"]), -(int(r["periods"]) - 1))
        sites, first = entries.get(name, (set(), since))
        entries[name] = (sites | {str(r["site"])}, min(first, since))
    named = "; ".join(
        f"{name} at {next(iter(sites)) if len(sites) == 1 else f'{len(sites)} sites'} (in use "
        f"since {since})"
        for name, (sites, since) in entries.items()
    )
    months = sorted({r.alert_months for r in rules if r.name in set(known["rule"])})
    span = f"{months[0]} months" if len(months) == 1 else "its rule's alert_months"
    return (
        f"Known, no longer alerting (each alerted for {span} from its first alert; section 4 "
        f"lists them): {named}. To monitor one against its own baseline, set a [reference] "
        "window in alert_rules.toml that contains months of it."
    )


def _known_name(row: dict[str, Any]) -> str:
    """A known new value as the summary names it: 'scanner model GC85A', 'scanner software
    VF12B on the Ysio Max', 'AI model version ChestXR-Triage 2.2'."""
    metric, value = row["metric"], row["category"]
    if metric == "model_version":
        return f"AI model version {row.get('model_name')} {value}"
    if metric == "scanner_software" and isinstance(row.get("scanner_model"), str):
        return f"scanner software {value} on the {row['scanner_model']}"
    return f"{str(metric).replace('_', ' ')} {value}"


def site_volume_rules(rules: list[Rule] | tuple[Rule, ...]) -> list[str]:
    """The names of the volume rules the volume table and chart are drawn from: ``poisson``
    rules grouped by site alone over a one-month window."""
    return [r.name for r in rules if r.method == "poisson" and r.group_by == ("site",)
            and r.window_months == 1]  # fmt: skip


def histogram_rules(rules: list[Rule] | tuple[Rule, ...]) -> list[str]:
    """The names of the PSI rules the score histograms are chosen by: grouped by exactly
    :data:`HISTOGRAM_KEYS` (in any order)."""
    return [r.name for r in rules
            if r.method == "psi" and sorted(r.group_by) == sorted(HISTOGRAM_KEYS)]  # fmt: skip


def _absent_sections_note(rules: tuple[Rule, ...]) -> str | None:
    """The parts of the report that come from a kind of rule the rules file does not have."""
    missing = []
    if not site_volume_rules(rules):
        missing.append("studies per site and month (a poisson volume rule grouped by site "
                       "alone, window_months 1)")  # fmt: skip
    if not any(r.method == "new_category" for r in rules):
        missing.append("new scanners, software and AI model versions (a new_category rule)")
    if not histogram_rules(rules):
        missing.append("score histograms (a psi rule grouped by site, scanner_model and finding)")
    if not missing:
        return None
    return (
        "Not checked, because the alert rules have no rule for them: "
        f"{'; '.join(missing)}. Add such a rule to alert_rules.toml to have them in the report."
    )


def _site_volume(res: pd.DataFrame, rules: list[Rule]) -> pd.DataFrame:
    """One row per site and month from the volume rules grouped by site alone (one-month
    window): the month's studies, the reference monthly mean and the change (the same for every
    such rule), ``status`` "drift" when any of them drifts, and ``drifting_rules`` naming them."""
    names = site_volume_rules(rules)
    cols = ["site", "month", "n", "reference_value", "value", "status", "drifting_rules"]
    vol = res[res["rule"].isin(names)]
    if vol.empty:
        return pd.DataFrame(columns=cols)
    rank = {"drift": 0, "ok": 1, "insufficient data": 2}
    vol = vol.assign(_rank=vol["status"].map(rank), _order=vol["rule"].map(names.index))
    drifting = (
        vol[vol["status"] == "drift"].sort_values("_order").groupby(["site", "month"])["rule"]
        .agg(", ".join).rename("drifting_rules")
    )  # fmt: skip
    first = vol.sort_values(["_rank", "_order"], kind="stable").drop_duplicates(["site", "month"])
    out = first.merge(drifting, on=["site", "month"], how="left")
    out["drifting_rules"] = out["drifting_rules"].fillna("")
    return _sorted(out[cols], ["site", "month"])


#: At most this many site x scanner x finding score histograms in the report.
MAX_HISTOGRAMS = 4
#: The groups of the monitor's score histograms (:func:`metrics.monitor`): a PSI rule's rows
#: name a histogram only when the rule groups by exactly these.
HISTOGRAM_KEYS = ("site", "scanner_model", "finding")


def _selected_histograms(result: MonitorResult, month: str) -> pd.DataFrame:
    """Score histograms of the groups with the largest PSI this month (alerting ones first).

    The PSI comes from the rules grouped by :data:`HISTOGRAM_KEYS`; without such a rule the
    table is empty (a PSI by site alone, or by finding, describes no single histogram)."""
    res, hist = result.results, result.histograms
    keys = list(HISTOGRAM_KEYS)
    names = histogram_rules(result.rules)
    if hist.empty or not names:
        return pd.DataFrame()
    psi = res[res["rule"].isin(names) & (res["month"] == month)]
    psi = psi[psi["status"] != "insufficient data"]
    psi = psi.assign(_drift=psi["status"] == "drift").sort_values(
        ["_drift", "value", *keys], ascending=[False, False, True, True, True], kind="stable"
    )
    psi = psi.drop_duplicates(keys)  # two such PSI rules: a group once, at its larger PSI
    chosen = psi[keys].head(MAX_HISTOGRAMS).assign(rank=range(min(len(psi), MAX_HISTOGRAMS)))
    out = hist.merge(chosen, on=keys, how="inner")
    out = out.merge(psi[[*keys, "value", "status"]].rename(columns={"value": "psi"}), on=keys)
    return _sorted(out, ["rank", "bin"])


def _optional(name: str) -> Any:
    """A metrics function that may not exist yet in this version (None if absent)."""
    import metrics

    return getattr(metrics, name, None)


def _agreement_and_pending(
    con: duckdb.DuckDBPyConnection, month: str, ref: ResolvedReference, s: ReportSettings,
    notes: list[str],
) -> dict[str, pd.DataFrame]:  # fmt: skip
    out: dict[str, pd.DataFrame] = {}
    reader = _optional("reader_agreement")
    if reader is not None:
        out["reader_agreement"] = _sorted(
            reader(con, by=("finding",), filters=month_filters(month, month)), ["finding"]
        )
    else:
        notes.append(
            "Reader vs reader agreement: not shown, the metrics function reader_agreement is "
            "not available in this version."
        )
    weeks = label_completeness(
        con, by=(), period="week",
        filters=month_filters(add_months(month, -1), month, ref.model_version),
    )  # fmt: skip
    out["pending_by_week"] = _with_week_spans(
        _sorted(weeks, ["period"]),
        month_start(add_months(month, -1)),
        month_start(add_months(month, 1)) - dt.timedelta(days=1),
    )
    return out


def _with_week_spans(weeks: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    """``weeks`` (``period`` an ISO week, 'YYYY-Www') with ``days``: the dates of the week that
    the window ``first``..``last`` covers, as 'Mon d–Mon d'; an ISO week at either end of the
    window is partial, and its counts are those of its days in the window."""
    if weeks.empty:
        return weeks.assign(days=pd.Series(dtype=object), partial=pd.Series(dtype=bool))
    days, partial = [], []
    for period in weeks["period"]:
        year, week = int(period[:4]), int(period[-2:])
        monday = dt.date.fromisocalendar(year, week, 1)
        start, end = max(monday, first), min(monday + dt.timedelta(days=6), last)
        days.append(f"{start:%b} {start.day}–{end:%b} {end.day}")
        partial.append(start != monday or end != monday + dt.timedelta(days=6))
    return weeks.assign(days=days, partial=partial)


def _model_versions(
    con: duckdb.DuckDBPyConnection, month: str, ref: ResolvedReference, s: ReportSettings
) -> pd.DataFrame:
    return model_versions(con, filters=month_filters(ref.first, month))


def build_monthly_report(
    con: duckdb.DuckDBPyConnection, month: str, settings: ReportSettings | None = None
) -> MonthlyReport:
    """Every table, alert and reading of the monthly report for ``month``.

    Parameters
    ----------
    con : connection to a published snapshot (or any store with the schema).
    month : 'YYYY-MM'
    settings : ReportSettings, optional
        Reference window, alert rules, alpha and min_n; defaults as in :class:`ReportSettings`.
    """
    s = settings or ReportSettings()
    _check_month_has_happened(con, month)
    result = monitor(con, month=month, reference=s.reference, rules=list(s.rules))
    ref = result.reference
    if ref.contains(month) or month < ref.first:
        raise InputError(
            f"month {month} is inside or before the reference window {ref.label}; expected a "
            "month after it"
        )
    info = snapshot_info(con)
    received = month_data(con, month)
    notes: list[str] = [
        "AI processing and failure rates: not recorded (the store holds the predictions the AI "
        "returned, not the studies it failed on)."
    ]
    if ref.note:  # sparse leading months skipped, or a thin window set by hand
        notes.append(f"Reference window {ref.label}: {ref.note}")
    tables: dict[str, pd.DataFrame] = {}
    tables["volume_predictions_site"] = label_completeness(
        con, by=("site",), filters=month_filters(month, month, ref.model_version)
    )
    tables["volume_predictions_scanner"] = label_completeness(
        con, by=("scanner_manufacturer", "scanner_model"),
        filters=month_filters(month, month, ref.model_version),
    )  # fmt: skip
    tables["volume_predictions_modality"] = label_completeness(
        con, by=("modality",), filters=month_filters(month, month, ref.model_version)
    )
    tables.update(_performance(con, month, ref, s))
    het, forest_groups = _forests(tables, s.alpha)
    tables["forest_groups"] = forest_groups
    tables["trend_by_month"] = summarize(
        con, by=("finding", "model_name"), period="month", alpha=s.alpha, min_n=s.min_n,
        filters=month_filters(ref.first, month, ref.model_version),
    )  # fmt: skip
    tables.update(_drift_tables(result, month))
    unchecked = _unchecked_note(tables["drift_checks"], s.rules)
    if unchecked:
        notes.append(unchecked)
    absent = _absent_sections_note(s.rules)
    if absent:
        notes.append(absent)
    known = _known_note(tables["new_categories"], s.rules)
    if known:
        notes.append(known)
    tables.update(_agreement_and_pending(con, month, ref, s, notes))
    estimated = estimate_performance(
        con, month=month, reference=s.reference, alpha=s.alpha,
        by=("site", "finding", "model_name", "model_version"),
    )  # fmt: skip
    if len(estimated):
        tables["estimated_performance"] = estimated
        if not estimated["n"].any():
            notes.append(
                f"Estimated performance (CBPE): none of the {int(estimated['n_pending'].sum()):,} "
                f"pending predictions of {month} could be estimated: the reference window has no "
                "labelled case of their model version and finding to calibrate the scores on."
            )
    else:
        notes.append(_no_estimate_note(received))
    share = _ai_assisted_note(received)
    if share:
        notes.insert(0, share)
    tables["model_versions"] = _model_versions(con, month, ref, s)
    if ref.model_version is None and (
        changed := _new_versions_note(tables["model_versions"], month, ref)
    ):
        notes.append(changed)
    alerts = result.alerts_as_dicts()
    methods = dict(tables["performance_site"].attrs.get("methods", {}))
    methods |= {f"rule: {r.name}": _rule_method(result, r) for r in s.rules}
    methods["heterogeneity"] = (
        "Cochran's Q; I^2 (REML tau^2) with the Q-profile interval (Viechtbauer 2007); "
        "random-effects pooled estimate with REML tau^2 (Viechtbauer 2005), DerSimonian-Laird "
        "(1986) alongside; on the logit scale, 0.5 continuity correction for groups at 0 or 1"
    )
    return MonthlyReport(
        month=month,
        previous_month=add_months(month, -1),
        snapshot_id=info.snapshot_id if info else None,
        published_at=info.published_at if info else None,
        reference=ref,
        settings=s,
        alerts=alerts,
        readings=alert_readings(alerts, result.results, month, result.rules),
        tables=tables,
        heterogeneity=het,
        methods=methods,
        notes=notes,
        monitor=result,
        data_received=asdict(received),
        headline=_no_data_headline(received) or _no_reads_headline(received),
    )


def _check_month_has_happened(con: duckdb.DuckDBPyConnection, month: str) -> None:
    """Refuse a month after the snapshot's last study month: its report would count the months
    in between as months without studies ("volume fell by 100%, 18 months running").

    A month without studies inside the snapshot's span is reported (it opens with a warning);
    so is any month of a snapshot without studies at all.
    """
    check_month(month)
    d = month_data(con, month)
    if d.last_study is None or d.first_study is None:
        return
    last = f"{d.last_study:%Y-%m}"
    if month > last:
        raise InputError(
            f"month {month} is after the snapshot's last study month {last}: its studies are "
            f"dated {d.first_study} to {d.last_study}; expected {last} or an earlier month"
        )


def _no_estimate_note(d: MonthData) -> str:
    """Why the estimated-performance table is empty."""
    if not d.predictions:
        return (
            f"Estimated performance (CBPE): there are no studies with an AI prediction for "
            f"{d.month}; nothing to estimate."
        )
    return (
        f"Estimated performance (CBPE): every AI prediction of {d.month} has its reads; nothing "
        "to estimate."
    )


def _new_versions_note(versions: pd.DataFrame, month: str, ref: ResolvedReference) -> str | None:
    """A note naming the model versions in use in ``month`` that the reference window did not
    have: the month's figures of such a version are compared with an earlier version's, so a
    difference may be the new version rather than drift."""
    if versions.empty:
        return None
    used = versions[(versions["first_month"] <= month) & (versions["last_month"] >= month)]
    new = used[used["first_month"] > ref.last]
    if new.empty:
        return None
    named = ", ".join(
        f"{r.model_name} {r.model_version} (in use since {r.first_month})" for r in new.itertuples()
    )
    return (
        f"Model versions in use in {month} that the reference window ({ref.label}) did not "
        f"have: {named}. Their figures are compared with the earlier version's reference, so a "
        "difference may come from the new version rather than from drift; a reference window "
        "of the new version's own first months tells them apart."
    )


def _ai_assisted_note(d: MonthData) -> str | None:
    """The share of the month's reference standard made with the AI's output in view."""
    if not d.labelled:
        return None
    share = d.ai_assisted_reference / d.labelled
    return (
        f"Reference standard: {d.ai_assisted_reference:,} of the {d.labelled:,} labelled AI "
        f"predictions of {d.month} ({share:.1%}) have a reference that includes a read made with "
        "the AI's output in view (ai_assisted). Such a reference is not independent of the AI "
        "(incorporation bias): it inflates the AI's apparent sensitivity, specificity and "
        "agreement with the radiologists."
    )


def _no_reads_headline(d: MonthData) -> str | None:
    """The opening warning when the month's predictions have no reference standard at all."""
    if not d.predictions or d.labelled:
        return None
    if not d.reads:
        return (
            f"No radiologist reads: the snapshot holds no clinical read for any month, so none "
            f"of the {d.predictions:,} AI predictions of {d.month} has a reference standard. The "
            "AI's accuracy (sensitivity, specificity, AUC, agreement with the radiologists) "
            "cannot be measured, and estimated performance cannot be calibrated; this report "
            "shows volumes, AI positive rates and score distributions only. Check that the "
            "reads (RIS export) are ingested."
        )
    return (
        f"No reads yet for {d.month}: none of its {d.predictions:,} AI predictions has a "
        "reference standard, so the AI's accuracy this month cannot be measured; sections 3 "
        "and 5 show no estimate for it and section 6 estimates it from calibrated scores."
    )


def _no_data_headline(d: MonthData) -> str | None:
    """The report's opening warning when the month has no AI predictions (None when it has)."""
    if d.predictions:
        return None
    span = (
        f"the snapshot's studies are dated {d.first_study} to {d.last_study}"
        if d.last_study
        else "the snapshot holds no studies at all"
    )
    dicom = (
        f" ({d.studies:,} studies of {d.month} have DICOM headers but no AI prediction)"
        if d.studies
        else ""
    )
    return (
        f"No studies were received for {d.month}: the snapshot has no AI prediction for a study "
        f"dated in that month{dicom}; {span}. Nothing in this report describes how the AI "
        f"performed in {d.month}. Check that every site's feed and the ingest ran."
    )


def _rule_method(result: MonitorResult, rule: Rule) -> str:
    """The methods-table text of a rule: its method with the constants it runs with, and the
    multiplicity correction only for a method that has a p-value."""
    method = METHODS[rule.method]
    if rule.method in SPC_METHODS:
        label = spc_method_text(rule.method, rule.threshold, rule.params)
    else:
        label = method.label
    correction = {"holm": "Holm (1979)", "bh": "Benjamini-Hochberg (1995)"}[rule.correction]
    if method.has_test:
        test = f"; p adjusted by {correction} at alpha {rule.alpha}"
    elif rule.method not in SPC_METHODS:
        test = "; no p-value: decided on the threshold alone"
    else:
        test = ""
    known = (
        f"; alerts for {rule.alert_months} month(s) on a category, then lists it as known"
        if rule.method == "new_category"
        else ""
    )
    return (
        f"{label}{test}; threshold {rule.threshold} ({rule.direction}); min_n {rule.min_n}; "
        f"alert after {rule.persistence} month(s){known}; window {rule.window_months} "
        f"month(s); by {', '.join(rule.group_by)}"
    )


# ----------------------------------------------------------------------------- writing
def load_report_settings(data_dir: Path) -> ReportSettings:
    """Settings for the data dir: its ``alert_rules.toml``, else the built-in default rules.
    Nothing is written into the data dir."""
    rules, source = data_dir_rules(data_dir)
    reference, chosen = data_dir_reference(data_dir)
    return ReportSettings(
        reference=reference, rules=tuple(rules), rules_source=source, reference_source=chosen
    )


def write_monthly_report(
    data_dir: Path, month: str, out: Path, settings: ReportSettings | None = None
) -> list[Path]:
    """Write ``drift-report-<month>.html``, ``.pdf`` and ``.json`` into ``out``.

    The numbers come from the published snapshot in ``data_dir``; the paths are returned in
    the order HTML, PDF, JSON. The data dir is only read (its snapshot, cases file, result cache
    and alert rules): a read-only data dir works with ``out`` elsewhere, and a data dir without
    a snapshot is refused before anything is created.
    """
    from reports._charts import SvgRenderer  # noqa: PLC0415
    from reports._render import render_documents  # noqa: PLC0415

    settings = settings or load_report_settings(Path(data_dir))
    with (
        SvgRenderer() as charts,
        disk_read_only(),
    ):  # Chromium starts, and WeasyPrint loads, while the metrics run
        threading.Thread(target=importlib.import_module, args=("weasyprint",), daemon=True).start()
        con = open_snapshot(Path(data_dir))
        try:
            report = build_monthly_report(con, month, settings)
        finally:
            con.close()
        html, pdf = render_documents(report, charts)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"drift-report-{month}"
    html_path, pdf_path, json_path = (stem.with_suffix(s) for s in (".html", ".pdf", ".json"))
    doc = json.dumps(report.to_json(), indent=2, sort_keys=False, allow_nan=False)
    _write_together({html_path: html.encode(), pdf_path: pdf, json_path: (doc + "\n").encode()})
    return [html_path, pdf_path, json_path]


def _write_together(files: dict[Path, bytes]) -> None:
    """Write the report's files as one: each to a temporary name beside it (this process's
    own), and only once all are written, each renamed over its final name. A full disk leaves
    the earlier report's three files as they were, not a new HTML and PDF beside an old JSON,
    and no temporary file; the error names the file it was writing."""
    tmps = {path: path.with_name(f".{path.name}.{os.getpid()}.tmp") for path in files}
    try:
        for path, data in files.items():
            try:
                tmps[path].write_bytes(data)
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        for path, tmp in tmps.items():
            tmp.replace(path)
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
