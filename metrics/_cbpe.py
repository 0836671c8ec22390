"""Estimated performance while reads are pending (confidence-based performance estimation).

The idea is NannyML's CBPE (``nannyml/performance_estimation/confidence_based``): if scores are
calibrated, the probability that an unlabelled case is positive is its calibrated score, so the
expected confusion counts of a period's pending cases are sums of calibrated probabilities:

- ``E[TP] = sum p_i`` over cases the AI called positive, ``E[FP] = sum (1 - p_i)`` over those;
- ``E[FN] = sum p_i`` over cases called negative, ``E[TN] = sum (1 - p_i)`` over those.

Calibration: isotonic regression (scikit-learn ``IsotonicRegression``; Zadrozny & Elkan 2002) of
the reference label on the score, per AI model, model version and finding, fitted on the
reference window's labelled cases (every site and scanner: a filter chooses which pending cases
are estimated, not how a model's score maps to a probability). Both the fit and the sums run on
50-bin score histograms that SQL produced (``metrics/sql/drift_predictions.sql`` for the
reference window, :func:`pending_bins` for the month), weighted by counts.

Rows are always per AI model and model version (:data:`MODEL_KEYS`): two models scoring the same
finding (a CT nodule model and a chest X-ray triage model) are different products, and a new
version is a new product, so pooling them would give a figure that describes neither.

Interval: treating the pending cases' true labels as independent Bernoulli(p_i) (a
Poisson-binomial count per AI call), the delta method gives the variance of each ratio and a
normal-approximation interval. It covers label uncertainty only, not calibration error or a shift
since the reference; results are always labelled ``"estimate"``, and
:func:`compare_estimates` checks them against the realised values once reads arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metrics._filters import FLAT_COLUMNS, Filters, cases_source, check_by, where_clause
from metrics._grouped import DEFAULT_MIN_N, MIN_PER_CLASS, summarize
from metrics._lazy import lazy_module
from metrics._periods import ReferenceWindow, add_months, check_month, month_range, month_start
from metrics._types import ZERO_SE

if TYPE_CHECKING:
    from scipy import stats
else:
    stats = lazy_module("scipy.stats")

CALIBRATION_KEYS = ("model_name", "model_version", "finding")
#: Columns every estimated / realised row is split by, whatever ``by`` asks for.
MODEL_KEYS = ("model_name", "model_version")
#: Group-by names :func:`estimate_performance` accepts: the cases table's columns except
#: ``ai_assisted`` (a pending case has no read, so it has no value there).
ESTIMATE_BY = {k: v for k, v in FLAT_COLUMNS.items() if k != "ai_assisted"}
POOLED = "(all versions)"
METHOD = (
    "CBPE: isotonic calibration on the reference window; Poisson-binomial variance, "
    "delta method, normal approximation"
)


def fit_calibration(reference_bins: pd.DataFrame, *, bins: int) -> pd.DataFrame:
    """Calibrated probability per model, model version, finding and score bin.

    Parameters
    ----------
    reference_bins : DataFrame
        Columns model_name, model_version, finding, bin, n_pos, n_neg: labelled reference
        cases per bin.
    bins : int
        Number of equal-width score bins (bin ``b`` covers ``[b/bins, (b+1)/bins)``).

    Returns
    -------
    DataFrame with model_name, model_version, finding, bin (every bin) and ``p``. Rows with
    model_version :data:`POOLED` pool every version of one model's finding:
    :func:`estimate_from_bins` uses them for a version that has no labelled reference cases (a
    model updated after the reference window), never another model's calibration.
    """
    pooled = reference_bins.assign(model_version=POOLED)
    both = pd.concat([reference_bins, pooled], ignore_index=True)
    agg = both.groupby([*CALIBRATION_KEYS, "bin"], as_index=False)[["n_pos", "n_neg"]]
    from sklearn.isotonic import IsotonicRegression  # here, not at import: faster start

    table = agg.sum()
    centres = (np.arange(bins) + 0.5) / bins
    frames = []
    for key, part in table.groupby(list(CALIBRATION_KEYS)):  # one fit per model and finding
        w = (part["n_pos"] + part["n_neg"]).to_numpy(dtype=float)
        keep = w > 0
        if not keep.any():
            continue
        x = centres[part["bin"].to_numpy()[keep]]
        y = part["n_pos"].to_numpy(dtype=float)[keep] / w[keep]
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(x, y, sample_weight=w[keep])
        frames.append(
            pd.DataFrame(
                {
                    "model_name": key[0],
                    "model_version": key[1],
                    "finding": key[2],
                    "bin": np.arange(bins),
                    "p": iso.predict(centres),
                }
            )  # fmt: skip
        )
    cols = [*CALIBRATION_KEYS, "bin", "p"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def estimate_from_bins(
    pending: pd.DataFrame,
    calibration: pd.DataFrame,
    *,
    by: tuple[str, ...],
    alpha: float = 0.05,
    min_class: int = MIN_PER_CLASS,
) -> pd.DataFrame:
    """Estimated sensitivity, specificity and accuracy of pending cases per group.

    Parameters
    ----------
    pending : DataFrame
        Columns ``by``, model_name, model_version, finding, bin, predicted and ``n`` (pending
        cases).
    calibration : DataFrame
        From :func:`fit_calibration`. Cases of a model version and finding without a
        calibration, neither of their own version nor pooled over the model's versions, are
        left out (counted in ``n_uncalibrated``).

    Returns
    -------
    DataFrame, one row per group: n_pending (pending cases), n (those estimated),
    n_uncalibrated (those without a calibration: no labelled reference case of their model
    version and finding), expected tp/fp/fn/tn, and for each of sensitivity, specificity,
    accuracy the value, ``_low``, ``_high`` and ``_se``; ``kind`` is ``"estimate"``,
    ``method`` names the method. As in :func:`metrics.summarize`, sensitivity needs
    ``min_class`` expected positive cases and specificity ``min_class`` expected negative
    ones (default :data:`metrics._grouped.MIN_PER_CLASS`), and an estimate whose standard
    error is 0 (the AI called every pending case the same way) is NaN, never a zero-width
    interval; ``not_estimable`` gives the reasons.
    """
    by = tuple(by)
    rows = pending.merge(calibration, on=[*CALIBRATION_KEYS, "bin"], how="left")
    pooled = calibration[calibration["model_version"] == POOLED].drop(columns="model_version")
    same_model = ["model_name", "finding", "bin"]
    fallback = pending[same_model].merge(pooled, on=same_model, how="left")
    n = rows["n"].to_numpy(dtype=float)
    p = rows["p"].to_numpy(dtype=float)
    p = np.where(np.isnan(p), fallback["p"].to_numpy(dtype=float), p)
    ok = ~np.isnan(p)
    p = np.where(ok, p, 0.0)
    y = rows["predicted"].to_numpy(dtype=bool)
    cal = np.where(ok, n, 0.0)
    parts = pd.DataFrame(
        {
            **{c: rows[c] for c in by},
            "n": cal,
            "n_uncalibrated": np.where(ok, 0.0, n),
            "tp": cal * p * y,
            "fp": cal * (1 - p) * y,
            "fn": cal * p * ~y,
            "tn": cal * (1 - p) * ~y,
            "var_pos": cal * p * (1 - p) * y,  # variance of the positives among AI-positive
            "var_neg": cal * p * (1 - p) * ~y,  # ... among AI-negative
        }
    )
    g = parts.groupby(list(by), as_index=False, dropna=False).sum()
    z = stats.norm.ppf(1 - alpha / 2)
    tp, fp, fn, tn = (g[c].to_numpy() for c in ("tp", "fp", "fn", "tn"))
    vp, vn = g["var_pos"].to_numpy(), g["var_neg"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        # sens = A / (A + B), A = positives among AI-positive, B = positives among AI-negative
        sens = tp / (tp + fn)
        se_sens = np.sqrt(fn**2 * vp + tp**2 * vn) / (tp + fn) ** 2
        # spec = C / (C + D), C = negatives among AI-negative, D = negatives among AI-positive
        spec = tn / (tn + fp)
        se_spec = np.sqrt(fp**2 * vn + tn**2 * vp) / (tn + fp) ** 2
        total = g["n"].to_numpy()
        acc = (tp + tn) / total
        se_acc = np.sqrt(vp + vn) / total
    notes: list[list[str]] = [[] for _ in range(len(g))]
    for name, value, se, base, what in (
        ("sensitivity", sens, se_sens, tp + fn, "positive"),
        ("specificity", spec, se_spec, tn + fp, "negative"),
        ("accuracy", acc, se_acc, total, ""),
    ):
        few = (base < min_class) if what else np.zeros(len(g), dtype=bool)
        zero = ~few & ~np.isnan(value) & ~(se > ZERO_SE)
        for i in np.flatnonzero(few):
            notes[i].append(
                f"{name}: {base[i]:.1f} expected {what} case(s), fewer than min_class = {min_class}"
            )
        for i in np.flatnonzero(zero):
            notes[i].append(f"{name}: {_zero_se_reason(tp[i], fp[i], fn[i], tn[i])}")
        blank = few | zero
        g[name] = np.where(blank, np.nan, value)
        g[f"{name}_se"] = np.where(blank, np.nan, se)
        g[f"{name}_low"] = np.where(blank, np.nan, np.clip(value - z * se, 0, 1))
        g[f"{name}_high"] = np.where(blank, np.nan, np.clip(value + z * se, 0, 1))
    g.insert(len(by), "n_pending", g["n"] + g["n_uncalibrated"])
    g["not_estimable"] = ["; ".join(n) or None for n in notes]
    g["kind"] = "estimate"
    g["method"] = METHOD
    return g.drop(columns=["var_pos", "var_neg"])


def _zero_se_reason(tp: float, fp: float, fn: float, tn: float) -> str:
    """Why an estimate's delta-method SE is 0 (so its interval would have zero width)."""
    if tp + fp == 0 or fn + tn == 0:
        called = "negative" if tp + fp == 0 else "positive"
        return (
            f"not estimable: the AI called every pending case {called}, so the estimate is fixed "
            "by construction and its variance is 0"
        )
    return "not estimable: its variance is 0 (every calibrated probability is 0 or 1)"


def realised_from_bins(labelled: pd.DataFrame, *, by: tuple[str, ...]) -> pd.DataFrame:
    """Realised sensitivity, specificity, accuracy per group from binned labelled counts.

    ``labelled`` has columns ``by``, predicted, n_pos, n_neg.
    """
    y = labelled["predicted"].to_numpy(dtype=bool)
    pos, neg = labelled["n_pos"].to_numpy(), labelled["n_neg"].to_numpy()
    parts = pd.DataFrame(
        {**{c: labelled[c] for c in by}, "tp": pos * y, "fn": pos * ~y, "fp": neg * y,
         "tn": neg * ~y}
    )  # fmt: skip
    g = parts.groupby(list(by), as_index=False).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["sensitivity"] = g["tp"] / (g["tp"] + g["fn"])
        g["specificity"] = g["tn"] / (g["tn"] + g["fp"])
        g["accuracy"] = (g["tp"] + g["tn"]) / (g["tp"] + g["fn"] + g["fp"] + g["tn"])
    g["n"] = g[["tp", "fn", "fp", "tn"]].sum(axis=1)
    g["kind"] = "realised"
    return g


def compare_estimates(
    estimated: pd.DataFrame, realised: pd.DataFrame, *, by: tuple[str, ...]
) -> pd.DataFrame:
    """Estimate vs realised value per group and metric, once the reads have arrived.

    Returns one row per group and metric with estimate, low, high, realised, difference
    (realised minus estimate) and ``covered`` (the realised value inside the interval). Where
    ``realised`` has the realised value's own interval (``<metric>_low`` / ``_high``, as
    :func:`metrics.summarize` gives) it comes along as ``realised_low`` / ``realised_high``.
    """
    frames = []
    for metric in ("sensitivity", "specificity", "accuracy"):
        est = estimated[[*by, metric, f"{metric}_low", f"{metric}_high"]].rename(
            columns={metric: "estimate", f"{metric}_low": "low", f"{metric}_high": "high"}
        )
        names = {metric: "realised", f"{metric}_low": "realised_low",
                 f"{metric}_high": "realised_high"}  # fmt: skip
        real = realised[[*by, *(c for c in names if c in realised.columns)]].rename(columns=names)
        both = est.merge(real, on=list(by), how="inner")
        both.insert(len(by), "metric", metric)
        frames.append(both)
    out = pd.concat(frames, ignore_index=True)
    out["difference"] = out["realised"] - out["estimate"]
    out["covered"] = (out["realised"] >= out["low"]) & (out["realised"] <= out["high"])
    return out


def pending_sql(
    keys: tuple[str, ...], filters: Filters, source: str
) -> tuple[str, dict[str, object]]:
    """The query of :func:`pending_bins` and its parameters (``$bins`` apart): ``keys`` are
    names of :data:`ESTIMATE_BY` (identifiers from that allow-list only), ``source`` the cases
    from-item (:func:`metrics._filters.cases_source`), every value a ``$`` parameter."""
    cols = ",\n       ".join(f"{ESTIMATE_BY[k]} as {k}" for k in check_by(keys, ESTIMATE_BY))
    where, params = where_clause(filters, flat=True)
    pending = "c.ref_label is null"
    where = f"{where}\n      and {pending}" if where else f"where {pending}"
    sql = (
        f"select {cols},\n"
        "       least(greatest(floor(c.score * $bins), 0), $bins - 1)::integer as bin,\n"
        "       c.predicted as predicted,\n"
        "       count(*) as n\n"
        f"from {source} as c\n"
        f"{where}\n"
        "group by all"
    )
    return sql, params


def pending_bins(
    con: Any, *, by: tuple[str, ...], filters: Filters | None, bins: int
) -> pd.DataFrame:
    """The pending predictions (no reference standard yet) under ``filters``: one row per
    ``by``, model, model version, finding, score bin and AI call with their number ``n``.
    ``filters`` None selects nothing (an empty table).

    One DuckDB query over the cases table (:func:`metrics._filters.cases_source`) with the
    same ``where`` clause :func:`metrics.summarize` builds for the same filters, so the pending
    cases estimated here are exactly those ``summarize`` counts as ``pending``.
    """
    keys = [*by, *(k for k in CALIBRATION_KEYS if k not in by)]
    if filters is None:
        return pd.DataFrame({**{k: pd.Series(dtype=object) for k in keys},
                             "bin": pd.Series(dtype=np.int64),
                             "predicted": pd.Series(dtype=bool),
                             "n": pd.Series(dtype=np.int64)})  # fmt: skip
    sql, params = pending_sql(tuple(keys), filters, cases_source(con))
    out = con.execute(sql, {**params, "bins": bins}).df()
    out["n"] = out["n"].astype(np.int64)
    out["bin"] = out["bin"].astype(np.int64)
    out["predicted"] = out["predicted"].astype(bool)
    return out


def _model_keys(by: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """``by`` (validated) with :data:`MODEL_KEYS` appended where missing."""
    names = check_by(by, ESTIMATE_BY)
    return (*names, *(k for k in MODEL_KEYS if k not in names))


def _month_filters(
    filters: Filters | None, month: str, model_version: str | None
) -> Filters | None:
    """``filters`` for the studies of ``month`` (its own dates are replaced), and only the
    reference window's model version where it names one; None when the filter's versions
    exclude the reference's (no case is left)."""
    first = month_start(month)
    last = month_start(add_months(month, 1)) - dt.timedelta(days=1)
    out = replace(filters or Filters(), date_from=first, date_to=last)
    if model_version is None:
        return out
    if out.model_version and model_version not in out.model_version:
        return None
    return replace(out, model_version=(model_version,))


def estimate_performance(
    con: Any,
    *,
    month: str,
    reference: ReferenceWindow,
    by: tuple[str, ...] = ("site", "finding"),
    filters: Filters | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """CBPE estimate of ``month``'s pending cases per group (see the module docstring).

    Parameters
    ----------
    by : names from :data:`ESTIMATE_BY`
        The groups; model_name and model_version are always added (:data:`MODEL_KEYS`), so
        a row never pools two AI models or two versions of one.
    filters : Filters, optional
        Which of the month's pending cases count (site, scanner, modality, finding, model, ...);
        their dates are replaced by the month's. The calibration is fitted on the reference
        window's labelled cases of every site and scanner (see the module docstring).

    Examples
    --------
    ``estimate_performance(con, month="2026-10", reference=ReferenceWindow.first_months(6))``
    gives one row per site, finding, model_name and model_version with ``sensitivity``,
    ``sensitivity_low``, ... and ``kind == "estimate"``.
    """
    from metrics._monitor import SCORE_BINS, load_drift_tables

    check_month(month)
    keys = _model_keys(by)
    ref = reference.resolve(con)
    preds, _ = load_drift_tables(
        con, first_month=ref.first, last_month=month, model_version=ref.model_version
    )
    in_ref = preds["month"].isin(month_range(ref.first, ref.last))
    calibration = fit_calibration(preds[in_ref], bins=SCORE_BINS)
    month_filters = _month_filters(filters, month, ref.model_version)
    cur = pending_bins(con, by=keys, filters=month_filters, bins=SCORE_BINS)
    return estimate_from_bins(cur, calibration, by=keys, alpha=alpha)


def estimated_vs_realised(
    con: Any,
    *,
    month: str,
    reference: ReferenceWindow,
    by: tuple[str, ...] = ("site", "finding"),
    filters: Filters | None = None,
    alpha: float = 0.05,
    min_n: int = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """``month``'s estimate for its pending cases beside the realised value of its read ones,
    per group (``by`` plus model_name and model_version) and metric.

    Both halves rest on the same cases: the month's predictions under ``filters`` (their dates
    replaced by the month's). The estimate is :func:`estimate_performance`; the realised value
    and its interval are :func:`metrics.summarize` of the same groups and filters (Wilson
    interval; NaN below ``min_n`` labelled cases or ``MIN_PER_CLASS`` of the class).

    Returns
    -------
    DataFrame
        :func:`compare_estimates` rows (group columns, metric, estimate, low, high, realised,
        realised_low, realised_high, difference, covered) with ``n_pending`` (the group's
        pending predictions), ``n_estimated`` (those with a calibration) and ``n_read`` (its
        predictions with a reference standard). Empty when no case of the month is pending.
        ``attrs``: ``methods`` (``estimate`` and ``realised``), ``n_pending``, ``n_estimated``
        (over every group, whatever metric).
    """
    keys = _model_keys(by)
    estimated = estimate_performance(
        con, month=month, reference=reference, by=keys, filters=filters, alpha=alpha
    )
    columns = [*keys, "metric", "estimate", "low", "high", "realised", "realised_low",
               "realised_high", "difference", "covered", "n_pending", "n_estimated", "n_read"]  # fmt: skip
    if estimated.empty:
        return pd.DataFrame(columns=columns)
    ref = reference.resolve(con)
    month_filters = _month_filters(filters, month, ref.model_version)
    assert month_filters is not None  # else no case is pending and ``estimated`` is empty
    realised = summarize(con, by=keys, filters=month_filters, alpha=alpha, min_n=min_n)
    out = compare_estimates(estimated, realised, by=keys)
    counts = estimated[[*keys, "n_pending", "n"]].rename(columns={"n": "n_estimated"})
    counts = counts.merge(
        realised[[*keys, "n_labelled"]].rename(columns={"n_labelled": "n_read"}),
        on=list(keys),
        how="left",
        validate="one_to_one",
    )
    out = out.merge(counts, on=list(keys), how="left", validate="many_to_one")
    for c in ("n_pending", "n_estimated"):
        out[c] = out[c].astype(float)
    out["n_read"] = out["n_read"].fillna(0).astype(np.int64)
    out.attrs = {
        "methods": {
            "estimate": METHOD,
            "realised": realised.attrs.get("methods", {}).get("proportions", ""),
        },
        "n_pending": float(estimated["n_pending"].sum()),
        "n_estimated": float(estimated["n"].sum()),
        "alpha": alpha,
    }
    return out[columns]
