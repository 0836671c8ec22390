"""Monthly drift monitoring: every alert rule for one month, with persistence and evidence.

How it works
------------
1. Two DuckDB queries (``sql/drift_predictions.sql``, ``sql/drift_studies.sql``) reduce the
   store to small tables of sufficient statistics: per group dimensions x month x score bin
   (50 equal-width bins of [0, 1]) x AI call, the rows and how many the reference standard calls
   positive or negative; and per study attribute category, the number of studies (and per
   model, the studies each of its versions scored: the ``model_version`` rule). Everything
   below runs on those tables as dense ``(groups, months, ...)`` arrays (``np.bincount``), with
   no Python loop over rows or groups.
2. Each rule's method (:mod:`metrics._drift_methods`) compares every monitored month (after the
   reference window, up to ``month``) with the reference window's pooled counts.
   A rule with ``window_months = 2`` compares the last two monitored months pooled; the window
   never reaches into the reference, so the first monitored month's window holds that month
   alone (``months_covered`` in the results) and a volume is compared with the reference mean
   over as many months as the window holds.
3. A group-month is *insufficient data* when the period or the reference has fewer than
   ``min_n`` rows (never drift, never ok); for volume (``poisson``) only the reference's mean
   over the months the window covers counts, so a group that had enough studies and now has
   few or none can alert. Otherwise it *drifts* when the effect exceeds the rule's threshold in
   its direction (an effect equal to the threshold up to floating point, :data:`EXCEED_RTOL`,
   does not) and, for methods with a test, the p-value adjusted across the month's groups
   (Holm or BH, :func:`metrics.adjust_pvalues`) is below ``alpha``.
4. An alert is raised for ``month`` when a group has drifted for at least ``persistence``
   consecutive months ending at ``month``; ``first_period`` is the first month of that run,
   ``periods`` its length. For ``new_category`` (a new scanner model, software version or
   model version) they say instead since when the category has been in use in the group:
   ``first_period`` is the first monitored month with any of it (n > 0, judged or not) and
   ``periods`` the months from there to ``month``, both included, so a month below ``min_n``
   ("insufficient data") on the way does not restart the count.
5. A ``new_category`` rule alerts on a category for the rule's ``alert_months`` months, from
   the month of its first alert (``first_alert``: the first month it has drifted for
   ``persistence`` months in a row) to ``alert_until``. From the month after, a drifting row
   is *known* (``known``): it still drifts against the reference and is listed, in use since
   its first month, but raises no alert. The committee was told in the months right after the
   change; an installation 16 months old alerting every month as long as the reference window
   predates it would drown each month's news. Monitoring it against its own baseline means a
   ``[reference]`` window that contains months of it.

Deduplication
-------------
A child group's alert (its group extends a parent's, e.g. site + scanner under site) is dropped
when the parent has an alert for the same rule method and metric in the same month computed from
exactly the same rows (same ``n``): it only restates the parent. A child with fewer rows than its
parent is kept, since it says where inside the parent the drift is. Of two rules of one method and
metric alerting on the same group from the same rows (a site's "volume drop" and "volume change"
when it stopped sending), only the first rule's alert is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metrics import _spc
from metrics._cache import cached
from metrics._drift_methods import METHODS, DriftMethod, DriftResult, get_method
from metrics._filters import cases_source
from metrics._multiplicity import adjust_pvalue_rows
from metrics._periods import (
    ReferenceWindow,
    ResolvedReference,
    add_months,
    check_month,
    month_index,
    month_range,
    month_start,
)
from metrics._rules import MODEL_VERSION, STUDY_DIMS, Rule, default_rules
from radqa.derived import AGE_BAND_SQL

SCORE_BINS = 50
PRED_DIMS = (*STUDY_DIMS, "finding", "model_name", "model_version")
_SQL_DIR = Path(__file__).resolve().parent / "sql"
_CORRECTION_LABEL = {"holm": "Holm (1979)", "bh": "Benjamini-Hochberg (1995)"}


@cache
def _sql(name: str) -> str:
    return (_SQL_DIR / name).read_text()


# ---------------------------------------------------------------------------- the SQL side
@cached
def load_drift_tables(
    con: Any,
    *,
    first_month: str,
    last_month: str,
    model_version: str | None = None,
    bins: int = SCORE_BINS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two tables of sufficient statistics for the months ``first_month..last_month``.

    Returns
    -------
    (predictions, studies)
        ``predictions``: one row per site, scanner_manufacturer, scanner_model,
        scanner_software, modality, finding, model_name, model_version, month, bin, predicted
        with counts ``n``, ``n_pos``, ``n_neg`` (labelled positive / negative by the reference
        standard).
        ``studies``: one row per the study dimensions, month, model_name, attribute, category
        with ``n``. Attribute ``model_version`` counts the studies each version of a model
        (``model_name``) scored, ``model_studies`` (category None) the distinct studies any
        version of it scored (fewer than the versions' sum where two scored the same studies);
        the study attributes (scanner_model, ..., age_band) have one row per study each and no
        model_name (None).
    """
    params = {
        "start": month_start(first_month),
        "end": month_start(add_months(last_month, 1)),
        "model_version": model_version,
    }
    sql = _sql("drift_predictions.sql").replace("/*source*/", cases_source(con))
    preds = con.execute(sql, {**params, "bins": bins}).df()
    studies = con.execute(_sql("drift_studies.sql").replace("/*age_band*/", AGE_BAND_SQL), params)
    studies = studies.df()
    for df in (preds, studies):
        for col in ("n", "n_pos", "n_neg"):
            if col in df:
                df[col] = df[col].astype(np.int64)
    if len(preds):
        preds["predicted"] = preds["predicted"].astype(bool)
        preds["bin"] = preds["bin"].astype(np.int64)
    return preds, studies


# ---------------------------------------------------------------------------- dense arrays
@dataclass
class Dense:
    """Counts of a long table spread into ``values[group, month, (category)]``."""

    keys: pd.DataFrame
    values: npt.NDArray[np.float64]
    categories: list[Any] = field(default_factory=list)


def dense(
    df: pd.DataFrame,
    by: tuple[str, ...],
    months: list[str],
    weights: npt.ArrayLike,
    *,
    axis: str | None = None,
    size: int | None = None,
) -> Dense:
    """Sum ``weights`` into ``(G, T)`` or ``(G, T, K)`` by ``np.bincount`` on a linear index.

    ``axis`` names an extra column: with ``size`` its values are already 0..size-1 (score
    bins); without, its distinct values become the categories (sorted).
    """
    t = pd.Index(months).get_indexer(df["month"])
    keep = t >= 0
    df, t = df[keep], t[keep]
    w = np.asarray(weights, dtype=float)[keep]
    grouped = df.groupby(list(by), sort=True)
    g = grouped.ngroup().to_numpy()
    keys = grouped.size().index.to_frame(index=False)[list(by)]
    n_g, n_t = len(keys), len(months)
    categories: list[Any] = []
    if axis is None:
        shape: tuple[int, ...] = (n_g, n_t)
        index = g * n_t + t
    else:
        if size is None:
            categories = sorted(df[axis].unique())
            k = pd.Index(categories).get_indexer(df[axis])
            size = len(categories)
        else:
            k = df[axis].to_numpy()
        shape = (n_g, n_t, size)
        index = (g * n_t + t) * size + k
    flat = np.bincount(index, weights=w, minlength=int(np.prod(shape)))
    return Dense(keys, flat.reshape(shape).astype(np.float64), categories)


def rolling(a: npt.NDArray[np.float64], window: int, keep: npt.NDArray[np.bool_]) -> Any:
    """Sum over the last ``window`` months (axis 1), counting only months where ``keep``.

    The monitor passes the monitored months as ``keep``, so a window never reaches back into
    the reference window: the period and the reference stay disjoint, as the tests assume. The
    first ``window - 1`` monitored months therefore cover fewer months than ``window``
    (:func:`months_covered`); their ``n`` says so, proportions and distributions are unbiased,
    and a volume is compared with the reference mean of as many months as the window holds.
    """
    shape = (1, len(keep)) + (1,) * (a.ndim - 2)
    b = np.where(keep.reshape(shape), a, 0.0)
    if window == 1:
        return b
    c = np.cumsum(b, axis=1)
    out = c.copy()
    out[:, window:] -= c[:, :-window]
    return out


def months_covered(window: int, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """How many months each month's rolling window holds, shape ``(1, T)`` (see :func:`rolling`).

    >>> months_covered(2, np.array([False, True, True])).tolist()
    [[0.0, 1.0, 2.0]]
    """
    out: npt.NDArray[np.float64] = rolling(keep[None, :].astype(float), window, keep)
    return out


_ArrayFn = Callable[[Any, Any, Any, Any], Any]
_PROPORTIONS: dict[str, tuple[_ArrayFn, _ArrayFn]] = {
    # metric: (denominator, numerator) as functions of (n, n_pos, n_neg, predicted)
    "positive_rate": (lambda n, p, q, y: n, lambda n, p, q, y: n * y),
    "sensitivity": (lambda n, p, q, y: p, lambda n, p, q, y: p * y),
    "specificity": (lambda n, p, q, y: q, lambda n, p, q, y: q * ~y),
    "discordance": (lambda n, p, q, y: p + q, lambda n, p, q, y: p * ~y + q * y),
    "prevalence": (lambda n, p, q, y: p + q, lambda n, p, q, y: p),
    "label_completeness": (lambda n, p, q, y: n, lambda n, p, q, y: p + q),
}


def proportion_arrays(
    counts: pd.DataFrame, metric: str, by: tuple[str, ...], months: list[str]
) -> tuple[Dense, Dense]:
    """Numerator and denominator arrays ``(G, T)`` of a proportion metric."""
    den, num = _PROPORTIONS[metric]
    args = (
        counts["n"].to_numpy(),
        counts["n_pos"].to_numpy(),
        counts["n_neg"].to_numpy(),
        counts["predicted"].to_numpy(),
    )
    return dense(counts, by, months, num(*args)), dense(counts, by, months, den(*args))


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Alert:
    """One alert. :meth:`as_dict` has exactly the keys rule, metric, value, threshold, group,
    first_period, periods, evidence; evidence holds n, n_reference, p_value, p_adjusted, ci_low,
    ci_high, method, reference_value and months_covered (the months the rule's window holds)."""

    rule: str
    metric: str
    value: float
    threshold: float
    group: dict[str, str]
    first_period: str
    periods: int
    evidence: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "group": dict(self.group),
            "first_period": self.first_period,
            "periods": self.periods,
            "evidence": dict(self.evidence),
        }


@dataclass
class MonitorResult:
    """Everything one month's monitoring found, and the tables a report draws.

    Attributes
    ----------
    month, reference, monitored_months
        The month monitored, the resolved reference window, and the months after the
        reference up to ``month`` (the persistence history).
    alerts
        :class:`Alert` objects for ``month`` (after deduplication).
    results
        One row per rule x group x monitored month: months_covered (the months the rule's
        rolling window holds at that month: ``window_months``, fewer at the start of
        monitoring), n, n_reference, value, current_value, reference_value (for volume: the
        reference mean over months_covered months), p_value, p_adjusted, ci_low, ci_high,
        status ("ok", "drift", "insufficient data"), run (consecutive drifting months, what
        ``persistence`` counts), periods (the months an alert says it has been running: the
        run, or for new_category the months since the category first appeared in the group),
        method, correction; for new_category, first_alert and alert_until (the first and last
        months the category alerts: the rule's ``alert_months``; None before its first alert)
        and known (a drifting row after alert_until: listed, no alert), False elsewhere.
    new_categories
        Study attribute categories seen in ``month`` but never in the reference window.
    histograms
        Score shares per bin, reference vs ``month``, per site, scanner model and finding.
    spc
        p-chart, CUSUM and EWMA series per site and finding for sensitivity, specificity and
        the AI positive rate over the monitored months: n, proportion, the reference centre
        line and 3-sigma limits, z, cusum_pos / cusum_neg with the decision interval cusum_h,
        ewma with ewma_limit, a signal column per chart, and expected_min (the fewer of the
        month's expected events and non-events at the reference proportion: under 5 the
        normal approximation behind the limits is poor).
    label_completeness
        Labelled share per site, finding and month (Wilson 95% CI).
    """

    month: str
    reference: ResolvedReference
    monitored_months: list[str]
    alerts: list[Alert]
    results: pd.DataFrame
    new_categories: pd.DataFrame
    histograms: pd.DataFrame
    spc: pd.DataFrame
    label_completeness: pd.DataFrame
    rules: list[Rule]

    def alerts_as_dicts(self) -> list[dict[str, Any]]:
        return [a.as_dict() for a in self.alerts]


def _float(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


#: Relative tolerance of "exceeds the threshold": an effect must be larger than the threshold by
#: more than this share of it (and by more than 1e-12 for a threshold of 0). Effects are ratios
#: of whole counts, so one that equals the threshold on paper (1700/2000 - 1800/2000 against
#: 0.05) can come out of floating point a few 1e-17 beyond it; any real difference of counts is
#: far larger than 1e-9 of the threshold.
EXCEED_RTOL = 1e-9


def exceed_limit(threshold: float) -> float:
    """The value an effect must exceed (in absolute value) to exceed ``threshold``.

    >>> 0.85 - 0.90 < -0.05, 0.85 - 0.90 < -exceed_limit(0.05)
    (True, False)
    """
    return threshold + max(EXCEED_RTOL * threshold, 1e-12)


def _status(
    rule: Rule, res: DriftResult, method: DriftMethod
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """(status strings, adjusted p-values, drift mask) for arrays of shape (G, T[, K])."""
    sufficient = method.sufficient(res, rule.min_n)
    has_test = method.has_test
    p_adj = np.full(res.value.shape, np.nan)
    if has_test:  # one family per month: the month's groups (and categories) with enough data
        p = np.where(sufficient, res.p_value, np.nan)
        p_adj = np.moveaxis(adjust_pvalue_rows(np.moveaxis(p, 1, 0), rule.correction), 0, 1)
    if res.signal_up is not None and res.signal_down is not None:
        up, down = res.signal_up, res.signal_down
    else:
        value = np.nan_to_num(res.value)
        limit = exceed_limit(rule.threshold)
        up, down = value > limit, value < -limit
    effect = {"increase": up, "decrease": down, "both": up | down}[rule.direction]
    tested = (p_adj < rule.alpha) if has_test else np.ones_like(effect)
    drift = sufficient & effect & tested
    status = np.where(sufficient, np.where(drift, "drift", "ok"), "insufficient data")
    return status, p_adj, drift


def _months_since_first(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Months from the first month with a count (axis 1) to each month, both included; 0
    before it. A new category's "N months running (since M)": months without it or below a
    rule's min_n after its first month do not restart the count.

    >>> _months_since_first(np.array([[0.0, 3.0, 0.0, 9.0, 12.0]])).tolist()
    [[0, 1, 2, 3, 4]]
    """
    present = counts > 0
    first = np.argmax(present, axis=1)  # the first month with a count (0 when none: masked)
    seen = np.maximum.accumulate(present, axis=1)
    t = np.arange(counts.shape[1]).reshape((1, -1) + (1,) * (counts.ndim - 2))
    out: npt.NDArray[np.int64] = np.where(seen, t - np.expand_dims(first, 1) + 1, 0)
    return out.astype(np.int64)


def _model_studies(ctx: _Context, keys: pd.DataFrame, by: tuple[str, ...]) -> Dense:
    """The distinct studies each group's model scored per month (attribute model_studies of
    drift_studies.sql), in the order of ``keys`` (the groups of the model_version counts)."""
    rows = ctx.studies[ctx.studies["attribute"] == "model_studies"]
    tot = dense(rows, by, ctx.months, rows["n"])
    at = pd.MultiIndex.from_frame(tot.keys).get_indexer(pd.MultiIndex.from_frame(keys))
    if (at < 0).any():  # both come from one join: a group with versions has its studies
        raise AssertionError("model_version groups without their model's study counts")
    return Dense(keys, tot.values[at])


def _run_lengths(drift: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Consecutive drifting months ending at each month (axis 1)."""
    out = np.zeros(drift.shape, dtype=np.int64)
    run = np.zeros(drift.shape[:1] + drift.shape[2:], dtype=np.int64)
    for t in range(drift.shape[1]):
        run = np.where(drift[:, t], run + 1, 0)
        out[:, t] = run
    return out


@dataclass
class _Context:
    preds: pd.DataFrame
    counts: pd.DataFrame
    studies: pd.DataFrame
    months: list[str]
    ref_mask: npt.NDArray[np.bool_]
    mon_mask: npt.NDArray[np.bool_]


def rule_method(method: str, threshold: float, params: Mapping[str, float]) -> DriftMethod:
    """The drift method a rule of ``method`` with ``threshold`` and ``params`` runs: the params
    given, and for a control chart the threshold as its limit (the p-chart's and EWMA's L, the
    CUSUM's h). The report words a control chart's alert with the constants of this object.

    >>> rule_method("cusum", 6.5, {}).h
    6.5
    """
    method_params: dict[str, float] = dict(params)
    threshold_param = METHODS[method].threshold_param
    if threshold_param is not None:
        method_params[threshold_param] = threshold
    return get_method(method, **method_params)


def _evaluate(rule: Rule, ctx: _Context) -> tuple[pd.DataFrame, DriftResult | None]:
    """Run one rule over every group and monitored month; a long results table."""
    method = rule_method(rule.method, rule.threshold, rule.params)
    by, months = rule.group_by, ctx.months
    mon = ctx.mon_mask
    kind = method.kind
    categories: list[Any] = []
    if kind == "score":
        d = dense(ctx.preds, by, months, ctx.preds["n"], axis="bin", size=SCORE_BINS)
        ref = d.values[:, ctx.ref_mask].sum(1, keepdims=True)
        cur = rolling(d.values, rule.window_months, mon)[:, mon]
        res = method.compute(ref, cur)  # type: ignore[attr-defined]
    elif kind in ("categorical", "new_category"):
        rows = ctx.studies[ctx.studies["attribute"] == rule.metric]
        d = dense(rows, by, months, rows["n"], axis="category")
        categories = d.categories
        ref = d.values[:, ctx.ref_mask].sum(1, keepdims=True)
        cur = rolling(d.values, rule.window_months, mon)[:, mon]
        if kind == "new_category" and rule.metric == MODEL_VERSION:
            # a version's share of the studies the model scored (distinct: two versions may
            # score the same studies side by side), and the model's studies in the reference
            tot = _model_studies(ctx, d.keys, by).values[..., None]
            ref_tot = tot[:, ctx.ref_mask].sum(1, keepdims=True)
            cur_tot = rolling(tot, rule.window_months, mon)[:, mon]
            res = method.compute(ref, cur, ref_tot, cur_tot)  # type: ignore[attr-defined]
        else:
            res = method.compute(ref, cur)  # type: ignore[attr-defined]
    elif kind == "count":
        rows = ctx.studies[ctx.studies["attribute"] == "patient_sex"]  # one row per study
        d = dense(rows, by, months, rows["n"])
        ref_total = d.values[:, ctx.ref_mask].sum(1, keepdims=True)
        # reference months per month of the window: the rate test and the mean compare like
        # with like, also where a window at the start of monitoring holds a single month
        m = ctx.ref_mask.sum() / months_covered(rule.window_months, mon)[:, mon]
        res = method.compute(ref_total, m, rolling(d.values, rule.window_months, mon)[:, mon])  # type: ignore[attr-defined]
    else:
        num, den = proportion_arrays(ctx.counts, rule.metric, by, months)
        d = num
        x0 = num.values[:, ctx.ref_mask].sum(1, keepdims=True)
        n0 = den.values[:, ctx.ref_mask].sum(1, keepdims=True)
        x = rolling(num.values, rule.window_months, mon)[:, mon]
        n = rolling(den.values, rule.window_months, mon)[:, mon]
        res = method.compute(x0, n0, x, n)  # type: ignore[attr-defined]
    status, p_adj, drift = _status(rule, res, method)
    run = _run_lengths(drift)
    # a new category: in use since its first month, judged or not (the module docstring, 4.)
    periods = _months_since_first(d.values[:, mon]) if kind == "new_category" else run
    mon_months = [m for m, keep in zip(months, mon, strict=True) if keep]
    covered = months_covered(rule.window_months, mon)[0, mon]
    known: dict[str, npt.NDArray[Any]] = {}
    if kind == "new_category":
        first = _first_alert(drift & (run >= rule.persistence))
        t = np.arange(drift.shape[1]).reshape((1, -1) + (1,) * (drift.ndim - 2))
        start = np.expand_dims(first, 1)
        known = {
            "first_alert": np.broadcast_to(start, drift.shape),
            "known": drift & (start >= 0) & (t >= start + rule.alert_months),
        }
    table = _long_table(rule, method.label, d.keys, mon_months, categories, res, status, p_adj,
                        run, periods, covered, known)  # fmt: skip
    return _alert_span(table, rule, mon_months), res


def _first_alert(alerting: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """The index of each group's (and category's) first alerting month (axis 1), -1 for none.

    >>> _first_alert(np.array([[False, True, True], [False, False, False]])).tolist()
    [1, -1]
    """
    first = np.argmax(alerting, axis=1)
    out: npt.NDArray[np.int64] = np.where(alerting.any(axis=1), first, -1).astype(np.int64)
    return out


def _alert_span(table: pd.DataFrame, rule: Rule, months: list[str]) -> pd.DataFrame:
    """first_alert and alert_until as months (the index of the first alerting month in
    ``months`` and ``rule.alert_months`` on from it; None without an alert), and known; None,
    None and False for a rule other than new_category (the module docstring, 5.)."""
    if "first_alert" not in table:
        return table.assign(first_alert=None, alert_until=None, known=False)
    index = table["first_alert"].to_numpy()
    first = np.asarray([*months, None], dtype=object)[index]  # index -1: no alert (yet)
    until = pd.Series(first, dtype=object).map(
        {m: add_months(m, rule.alert_months - 1) for m in months}
    )
    return table.assign(
        first_alert=first,
        alert_until=until.astype(object).where(until.notna(), None).to_numpy(),
        known=table["known"].astype(bool),
    )


def _long_table(
    rule: Rule,
    label: str,
    keys: pd.DataFrame,
    months: list[str],
    categories: list[Any],
    res: DriftResult,
    status: npt.NDArray[Any],
    p_adj: npt.NDArray[np.float64],
    run: npt.NDArray[np.int64],
    periods: npt.NDArray[np.int64],
    covered: npt.NDArray[np.float64],
    extra: Mapping[str, npt.NDArray[Any]] | None = None,
) -> pd.DataFrame:
    shape = res.value.shape
    g_idx, t_idx, *k_idx = np.indices(shape).reshape(len(shape), -1)
    table = keys.iloc[g_idx].reset_index(drop=True)
    table.insert(0, "metric", rule.metric)
    table.insert(0, "method_key", rule.method)
    table.insert(0, "rule", rule.name)
    table["group_by"] = ",".join(rule.group_by)
    table["category"] = np.asarray(categories, dtype=object)[k_idx[0]] if k_idx else None
    table["month"] = np.asarray(months, dtype=object)[t_idx]
    table["months_covered"] = covered.astype(np.int64)[t_idx]
    cols = {
        "n": res.n,
        "n_reference": res.n_reference,
        "value": res.value,
        "current_value": res.current,
        "reference_value": res.reference,
        "p_value": res.p_value,
        "p_adjusted": p_adj,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
    }
    for name, arr in cols.items():
        table[name] = np.broadcast_to(arr, shape).reshape(-1).astype(float)
    table["status"] = status.reshape(-1)
    table["run"] = run.reshape(-1)
    table["periods"] = periods.reshape(-1)
    for name, arr in (extra or {}).items():  # columns of the same shape (first_alert, known)
        table[name] = np.broadcast_to(arr, shape).reshape(-1)
    table["threshold"] = rule.threshold
    table["method"] = label
    table["correction"] = _CORRECTION_LABEL[rule.correction] if np.isfinite(p_adj).any() else ""
    if k_idx:  # new categories: only rows where the category is new in that month
        table = table[table["value"].notna()].reset_index(drop=True)
    return table


def _alerts(rule: Rule, table: pd.DataFrame, month: str) -> list[Alert]:
    """Alerts of one rule for ``month`` from its long results table (few rows)."""
    hits = table[
        (table["month"] == month)
        & (table["status"] == "drift")
        & (table["run"] >= rule.persistence)
        & ~table["known"]  # a new category after its alert_months: listed, no alert
    ]
    out: list[Alert] = []
    for row in hits.to_dict("records"):  # only the alerting groups (a handful)
        group = {c: str(row[c]) for c in rule.group_by}
        if row["category"] is not None and not (
            isinstance(row["category"], float) and math.isnan(row["category"])
        ):
            group[rule.metric] = str(row["category"])
        method = row["method"]
        if row["correction"]:
            method += f"; p adjusted across groups by {row['correction']}"
        out.append(
            Alert(
                rule=rule.name,
                metric=rule.metric,
                value=float(row["value"]),
                threshold=rule.threshold,
                group=group,
                first_period=add_months(month, -(int(row["periods"]) - 1)),
                periods=int(row["periods"]),
                evidence={
                    "n": int(row["n"]),
                    "n_reference": int(row["n_reference"]),
                    "p_value": _float(row["p_value"]),
                    "p_adjusted": _float(row["p_adjusted"]),
                    "ci_low": _float(row["ci_low"]),
                    "ci_high": _float(row["ci_high"]),
                    "method": method,
                    "reference_value": _float(row["reference_value"]),
                    "months_covered": int(row["months_covered"]),
                },
            )
        )
    return out


def deduplicate(alerts: list[Alert], rules: dict[str, Rule]) -> list[Alert]:
    """Drop child-group alerts that restate a parent's (see the module docstring)."""
    kept = []
    for i, a in enumerate(alerts):
        ra = rules[a.rule]
        restates = any(
            j != i
            and rules[b.rule].method == ra.method
            and b.metric == a.metric
            and b.evidence["n"] == a.evidence["n"]
            and (len(b.group) < len(a.group) or (b.group == a.group and j < i))
            and b.group.items() <= a.group.items()
            for j, b in enumerate(alerts)
        )
        if not restates:
            kept.append(a)
    return kept


# ---------------------------------------------------------------------------- report tables
def _histograms(ctx: _Context, month: str) -> pd.DataFrame:
    by = ("site", "scanner_model", "finding")
    d = dense(ctx.preds, by, ctx.months, ctx.preds["n"], axis="bin", size=SCORE_BINS)
    ref = d.values[:, ctx.ref_mask].sum(1)
    cur = d.values[:, ctx.months.index(month)] if month in ctx.months else np.zeros_like(ref)
    g, b = np.indices(ref.shape).reshape(2, -1)
    table = d.keys.iloc[g].reset_index(drop=True)
    table["bin"] = b
    table["bin_low"] = b / SCORE_BINS
    table["bin_high"] = (b + 1) / SCORE_BINS
    with np.errstate(divide="ignore", invalid="ignore"):
        table["reference_share"] = (ref / ref.sum(1, keepdims=True)).reshape(-1)
        table["month_share"] = (cur / cur.sum(1, keepdims=True)).reshape(-1)
    table["n_reference"] = np.repeat(ref.sum(1), SCORE_BINS)
    table["n_month"] = np.repeat(cur.sum(1), SCORE_BINS)
    return table


def _spc_table(ctx: _Context) -> pd.DataFrame:
    by = ("site", "finding")
    mon_months = [m for m, k in zip(ctx.months, ctx.mon_mask, strict=True) if k]
    frames = []
    for metric in ("sensitivity", "specificity", "positive_rate"):
        num, den = proportion_arrays(ctx.counts, metric, by, ctx.months)
        x0 = num.values[:, ctx.ref_mask].sum(1, keepdims=True)
        n0 = den.values[:, ctx.ref_mask].sum(1, keepdims=True)
        x, n = num.values[:, ctx.mon_mask], den.values[:, ctx.mon_mask]
        with np.errstate(divide="ignore", invalid="ignore"):
            p0 = x0 / n0
            p = x / n
        _, lcl, ucl = _spc.p_chart_limits(p0, n)
        z = _spc.standardized_deviation(x, n, p0)
        cp, cm = _spc.cusum(z)
        w, lim = _spc.ewma(z)
        g, t = np.indices(x.shape).reshape(2, -1)
        table = num.keys.iloc[g].reset_index(drop=True)
        table.insert(0, "metric", metric)
        table["month"] = np.asarray(mon_months, dtype=object)[t]
        for name, arr in {
            "n": n, "proportion": p, "center": np.broadcast_to(p0, x.shape), "lcl": lcl,
            "ucl": ucl, "z": z, "cusum_pos": cp, "cusum_neg": cm, "ewma": w, "ewma_limit": lim,
        }.items():  # fmt: skip
            table[name] = np.asarray(arr, dtype=float).reshape(-1)
        table["p_chart_signal"] = np.abs(table["z"]) > 3
        table["cusum_signal"] = (table["cusum_pos"] > _spc.CUSUM_H) | (
            table["cusum_neg"] > _spc.CUSUM_H
        )
        table["ewma_signal"] = np.abs(table["ewma"]) > table["ewma_limit"]
        table["cusum_h"] = _spc.CUSUM_H
        # the smaller of the month's expected events and non-events at the reference proportion:
        # under 5, the normal approximation the limits and the standardised deviations rest on
        # is poor (a signal may be the approximation's, not a shift)
        with np.errstate(invalid="ignore"):
            expected = np.minimum(n * p0, n * (1 - p0))
        table["expected_min"] = np.asarray(expected, dtype=float).reshape(-1)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _completeness(ctx: _Context) -> pd.DataFrame:
    from metrics._proportions import proportion_ci_arrays

    by = ("site", "finding")
    num, den = proportion_arrays(ctx.counts, "label_completeness", by, ctx.months)
    g, t = np.indices(num.values.shape).reshape(2, -1)
    table = num.keys.iloc[g].reset_index(drop=True)
    table["month"] = np.asarray(ctx.months, dtype=object)[t]
    table["n"] = den.values.reshape(-1).astype(np.int64)
    table["labelled"] = num.values.reshape(-1).astype(np.int64)
    table["pending"] = table["n"] - table["labelled"]
    value, low, high = proportion_ci_arrays(table["labelled"], table["n"], method="wilson")
    table["completeness"], table["ci_low"], table["ci_high"] = value, low, high
    return table[table["n"] > 0].reset_index(drop=True)


# ---------------------------------------------------------------------------- entry point
def monitor(
    con: Any,
    *,
    month: str,
    reference: ReferenceWindow,
    rules: list[Rule] | None = None,
    min_n: int | None = None,
) -> MonitorResult:
    """Run every alert rule for ``month`` against the ``reference`` window.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        The store (a snapshot opened read-only is enough).
    month : str
        The month to monitor, ``'YYYY-MM'``. The months between the reference window and it are
        evaluated too, for persistence and each alert's ``first_period``.
    reference : ReferenceWindow
        The reference window; a model version in it restricts monitoring to that version (so
        a model_version rule then finds no other version).
    rules : list of Rule, optional
        Default: :func:`metrics.default_rules` (what applies without ``alert_rules.toml``).
    min_n : int, optional
        Overrides every rule's ``min_n``.

    Returns
    -------
    MonitorResult
        No alerts and empty tables when ``month`` is inside or before the reference window.
    """
    check_month(month)
    rules = list(default_rules() if rules is None else rules)
    if min_n is not None:
        rules = [_replace_min_n(r, min_n) for r in rules]
    ref = reference.resolve(con)
    months = month_range(ref.first, month) if month_index(month) >= month_index(ref.first) else []
    ref_mask = np.array([ref.contains(m) for m in months], dtype=bool)
    mon_mask = ~ref_mask
    if not mon_mask.any():
        empty = pd.DataFrame()
        return MonitorResult(month, ref, [], [], empty, empty, empty, empty, empty, rules)
    preds, studies = load_drift_tables(
        con, first_month=ref.first, last_month=month, model_version=ref.model_version
    )
    counts = (
        preds.groupby([*PRED_DIMS, "month", "predicted"], as_index=False)[["n", "n_pos", "n_neg"]]
        .sum()
    )  # fmt: skip
    ctx = _Context(preds, counts, studies, months, ref_mask, mon_mask)
    tables, alerts = [], []
    for rule in rules:  # a dozen rules, each vectorised over groups and months
        table, _ = _evaluate(rule, ctx)
        tables.append(table)
        alerts.extend(_alerts(rule, table, month))
    by_name = {r.name: r for r in rules}
    results = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    new = results[(results["method_key"] == "new_category") & (results["month"] == month)]
    return MonitorResult(
        month=month,
        reference=ref,
        monitored_months=[m for m, k in zip(months, mon_mask, strict=True) if k],
        alerts=deduplicate(alerts, by_name),
        results=results,
        new_categories=new.reset_index(drop=True),
        histograms=_histograms(ctx, month),
        spc=_spc_table(ctx),
        label_completeness=_completeness(ctx),
        rules=rules,
    )


def _replace_min_n(rule: Rule, min_n: int) -> Rule:
    from dataclasses import replace

    return replace(rule, min_n=int(min_n))
