"""Check a vendor's published figure against local performance, group by group.

A claim such as "97.4 % accuracy, holding across scanner models" is two statements: the figure
(is each group's interval compatible with it?) and its homogeneity (do the groups differ more
than chance allows?). :func:`claim_check` answers both from :func:`metrics.summarize`.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from metrics._cache import cached
from metrics._filters import Filters
from metrics._grouped import DEFAULT_MIN_N, summarize
from metrics._meta import Heterogeneity, heterogeneity
from metrics._types import Estimate
from radqa.errors import InputError

#: metric -> (numerator, denominator) columns of the summary, for the logit-scale meta-analysis.
_PROPORTIONS = {
    "sensitivity": ("tp", ("tp", "fn")),
    "specificity": ("tn", ("tn", "fp")),
    "ppv": ("tp", ("tp", "fp")),
    "npv": ("tn", ("tn", "fn")),
    "accuracy": ("agree", ("tp", "tn", "fp", "fn")),
    "agreement": ("agree", ("tp", "tn", "fp", "fn")),
}
METRICS = (*_PROPORTIONS, "auc", "kappa")

CONSISTENT, BELOW, INSUFFICIENT = "consistent with claim", "below claim", "insufficient data"


@cached
def claim_check(
    con: duckdb.DuckDBPyConnection,
    *,
    metric: str = "accuracy",
    claimed: float = 0.974,
    by: tuple[str, ...] | list[str] = ("modality",),
    filters: Filters | None = None,
    alpha: float = 0.05,
    min_n: int = DEFAULT_MIN_N,
) -> pd.DataFrame:
    """Is a published figure compatible with local performance in every group?

    Parameters
    ----------
    metric : {"sensitivity", "specificity", "ppv", "npv", "accuracy", "agreement", "auc", "kappa"}
        ``agreement`` is percent agreement of the AI with the reference (the same value as
        accuracy, with the percent-agreement interval).
    claimed : float
        The vendor's figure, as a fraction (0.974, not 97.4).
    by, filters, alpha, min_n :
        As in :func:`metrics.summarize`.

    Returns
    -------
    DataFrame
        One row per group: ``metric``, ``claimed``, the group columns, ``n_labelled``,
        ``estimate``, ``low``, ``high``, ``verdict`` and ``above_claim``; then the
        heterogeneity across the groups with enough data, the same in every row (so frames
        for several metrics concatenate): ``q``, ``q_df``, ``q_p_value``, ``i2``, ``i2_low``,
        ``i2_high`` and ``homogeneous`` (False when Q rejects equal performance at ``alpha``;
        NaN / None with fewer than two usable groups). ``attrs["heterogeneity"]`` holds the
        same with tau^2 and the pooled estimates as plain numbers (JSON-serialisable, as
        Streamlit and the exports need), or None.

        Verdicts: ``"below claim"`` when the (1 - alpha) interval lies wholly below
        ``claimed``; ``"insufficient data"`` when the group is flagged insufficient or the
        estimate is undefined; otherwise ``"consistent with claim"``. A claim is a lower
        bound on performance, so an interval wholly *above* the figure is also consistent;
        ``above_claim`` marks those groups.

    Notes
    -----
    Each group is judged by its own interval; with many groups some will fall below by chance
    alone, so read the verdicts together with the heterogeneity test (Cochran 1954; I^2 of
    Higgins & Thompson 2002 with the Q-profile interval of Viechtbauer 2007) that says whether
    the groups differ at all.
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; valid metrics are: {', '.join(METRICS)}")
    if not isinstance(claimed, int | float) or not -1.0 <= float(claimed) <= 1.0:
        raise InputError(
            f"claimed is {claimed!r}; expected a fraction such as 0.974 (not a percentage)"
        )
    summary = summarize(con, by=by, filters=filters, alpha=alpha, min_n=min_n)
    keys = [c for c in summary.columns if c in tuple(by)]
    est = summary[metric].to_numpy(dtype=float)
    low = summary[f"{metric}_low"].to_numpy(dtype=float)
    high = summary[f"{metric}_high"].to_numpy(dtype=float)
    unusable = summary["insufficient"].to_numpy(dtype=bool) | np.isnan(est)
    verdict = np.where(unusable, INSUFFICIENT, np.where(high < claimed, BELOW, CONSISTENT))
    groups = summary[keys].copy()
    groups.insert(0, "claimed", float(claimed))
    groups.insert(0, "metric", metric)
    groups["n_labelled"] = summary["n_labelled"]
    groups["estimate"], groups["low"], groups["high"] = est, low, high
    groups["verdict"] = verdict
    groups["above_claim"] = ~unusable & (low > claimed)
    het = heterogeneity_across(summary[~unusable], keys, metric, alpha)
    nan = float("nan")
    groups["q"] = het.q if het else nan
    groups["q_df"] = het.q_df if het else nan
    groups["q_p_value"] = het.q_p_value if het else nan
    groups["i2"] = het.i2.value if het else nan
    groups["i2_low"] = het.i2.low if het else nan
    groups["i2_high"] = het.i2.high if het else nan
    groups["homogeneous"] = bool(het.q_p_value >= alpha) if het else None
    groups = groups.reset_index(drop=True)
    groups.attrs.update(
        heterogeneity=_plain(het),
        alpha=alpha,
        methods={
            "estimate": summary.attrs.get("methods", {}).get(
                metric if metric in ("auc", "kappa", "agreement") else "proportions"
            ),
            "heterogeneity": "Cochran's Q, I^2 (REML tau^2) with Q-profile CI (Viechtbauer 2007); "
            + ("logit scale" if metric in _PROPORTIONS else "identity scale"),
        },
    )
    return groups


def _plain(het: Heterogeneity | None) -> dict[str, object] | None:
    """The heterogeneity result as plain numbers."""
    if het is None:
        return None

    def triple(e: Estimate) -> list[float]:
        return [e.value, e.low, e.high]

    return {
        "k": het.k,
        "scale": het.scale,
        "q": het.q,
        "q_df": het.q_df,
        "q_p_value": het.q_p_value,
        "i2": triple(het.i2),
        "tau2_dl": het.tau2_dl,
        "tau2_reml": het.tau2_reml,
        "fixed": triple(het.fixed),
        "random_dl": triple(het.random_dl),
        "random_reml": triple(het.random_reml),
    }


def group_denominators(summary: pd.DataFrame, metric: str) -> pd.Series:
    """The number of cases behind each row's ``metric`` in a :func:`metrics.summarize` table:
    the proportion's denominator (positives for sensitivity, ...), else the labelled cases."""
    if metric in _PROPORTIONS:
        return sum((summary[c] for c in _PROPORTIONS[metric][1]), pd.Series(0, summary.index))
    return summary["n_labelled"]


def heterogeneity_across(
    summary: pd.DataFrame, keys: list[str], metric: str, alpha: float = 0.05
) -> Heterogeneity | None:
    """Cochran's Q, I^2 and the pooled estimates of ``metric`` across the rows (groups) of a
    :func:`metrics.summarize` table, labelled by ``keys``; None with fewer than two usable groups.

    Proportions are pooled from their counts on the logit scale; AUC and kappa from their
    estimates and standard errors on the identity scale (groups with a zero SE left out).
    """
    if len(summary) < 2:
        return None
    labels = (
        summary[keys].astype(str).agg(" / ".join, axis=1) if keys else pd.Series(["all"])
    ).to_numpy()
    if metric in _PROPORTIONS:
        num, den = _PROPORTIONS[metric]
        count = (summary["tp"] + summary["tn"] if num == "agree" else summary[num]).to_numpy(
            dtype=float
        )
        nobs = group_denominators(summary, metric).to_numpy(dtype=float)
        frame = pd.DataFrame({"label": labels, "count": count, "nobs": nobs})
        return heterogeneity(frame, scale="logit", alpha=alpha)
    frame = pd.DataFrame(
        {
            "label": labels,
            "value": summary[metric].to_numpy(dtype=float),
            "se": summary[f"{metric}_se"].to_numpy(dtype=float),
        }
    )
    frame = frame[frame["se"] > 0]
    if len(frame) < 2:
        return None
    return heterogeneity(frame, scale="identity", alpha=alpha)
