"""Estimated performance while reads are pending (confidence-based performance estimation).

The idea is NannyML's CBPE (``nannyml/performance_estimation/confidence_based``): if scores are
calibrated, the probability that an unlabelled case is positive is its calibrated score, so the
expected confusion counts of a period's pending cases are sums of calibrated probabilities:

- ``E[TP] = sum p_i`` over cases the AI called positive, ``E[FP] = sum (1 - p_i)`` over those;
- ``E[FN] = sum p_i`` over cases called negative, ``E[TN] = sum (1 - p_i)`` over those.

Calibration: isotonic regression (scikit-learn ``IsotonicRegression``; Zadrozny & Elkan 2002) of
the reference label on the score, per model version and finding, fitted on the reference
window's labelled cases. Both the fit and the sums run on the 50-bin score histograms that SQL
produced (``metrics/sql/drift_predictions.sql``), weighted by counts.

Interval: treating the pending cases' true labels as independent Bernoulli(p_i) (a
Poisson-binomial count per AI call), the delta method gives the variance of each ratio and a
normal-approximation interval. It covers label uncertainty only, not calibration error or a shift
since the reference; results are always labelled ``"estimate"``, and
:func:`compare_estimates` checks them against the realised values once reads arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metrics._grouped import MIN_PER_CLASS
from metrics._lazy import lazy_module
from metrics._periods import ReferenceWindow, check_month, month_range
from metrics._types import ZERO_SE

if TYPE_CHECKING:
    from scipy import stats
else:
    stats = lazy_module("scipy.stats")

CALIBRATION_KEYS = ("model_version", "finding")
POOLED = "(all versions)"
METHOD = (
    "CBPE: isotonic calibration on the reference window; Poisson-binomial variance, "
    "delta method, normal approximation"
)


def fit_calibration(reference_bins: pd.DataFrame, *, bins: int) -> pd.DataFrame:
    """Calibrated probability per model version, finding and score bin.

    Parameters
    ----------
    reference_bins : DataFrame
        Columns model_version, finding, bin, n_pos, n_neg: labelled reference cases per bin.
    bins : int
        Number of equal-width score bins (bin ``b`` covers ``[b/bins, (b+1)/bins)``).

    Returns
    -------
    DataFrame with model_version, finding, bin (every bin) and ``p``. Rows with model_version
    :data:`POOLED` pool every version of a finding: :func:`estimate_from_bins` uses them for a
    version that has no labelled reference cases (a model updated after the reference window).
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
                    "model_version": key[0],
                    "finding": key[1],
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
        Columns ``by``, model_version, finding, bin, predicted and ``n`` (pending cases).
    calibration : DataFrame
        From :func:`fit_calibration`. Cases of a model version and finding without a
        calibration are left out (counted in ``n_uncalibrated``).

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
    fallback = pending[["finding", "bin"]].merge(pooled, on=["finding", "bin"], how="left")
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
    g = parts.groupby(list(by), as_index=False).sum()
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
    (realised minus estimate) and ``covered`` (the realised value inside the interval).
    """
    frames = []
    for metric in ("sensitivity", "specificity", "accuracy"):
        est = estimated[[*by, metric, f"{metric}_low", f"{metric}_high"]].rename(
            columns={metric: "estimate", f"{metric}_low": "low", f"{metric}_high": "high"}
        )
        real = realised[[*by, metric]].rename(columns={metric: "realised"})
        both = est.merge(real, on=list(by), how="inner")
        both.insert(len(by), "metric", metric)
        frames.append(both)
    out = pd.concat(frames, ignore_index=True)
    out["difference"] = out["realised"] - out["estimate"]
    out["covered"] = (out["realised"] >= out["low"]) & (out["realised"] <= out["high"])
    return out


def estimate_performance(
    con: Any,
    *,
    month: str,
    reference: ReferenceWindow,
    by: tuple[str, ...] = ("site", "finding"),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """CBPE estimate of ``month``'s pending cases per group (see the module docstring).

    Examples
    --------
    ``estimate_performance(con, month="2026-10", reference=ReferenceWindow.first_months(6))``
    gives one row per site and finding with ``sensitivity``, ``sensitivity_low``, ... and
    ``kind == "estimate"``.
    """
    from metrics._monitor import SCORE_BINS, load_drift_tables

    check_month(month)
    ref = reference.resolve(con)
    preds, _ = load_drift_tables(
        con, first_month=ref.first, last_month=month, model_version=ref.model_version
    )
    in_ref = preds["month"].isin(month_range(ref.first, ref.last))
    calibration = fit_calibration(preds[in_ref], bins=SCORE_BINS)
    cur = preds[preds["month"] == month].copy()
    cur["n"] = cur["n"] - cur["n_pos"] - cur["n_neg"]
    return estimate_from_bins(cur[cur["n"] > 0], calibration, by=by, alpha=alpha)
