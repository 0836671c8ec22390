"""Comparisons of trial arms and agreement tables for the trial export.

Inputs are the small count tables of :mod:`metrics._trial_sql`; every number comes from the
metrics functions (:func:`difference_ci`, :func:`risk_ratio_ci`, :func:`mcnemar`,
:func:`compare_aucs`, :func:`mrmc`, the agreement coefficients) or from statsmodels' GEE. Python
loops run over arm pairs, outcomes and cluster variables (a handful), never over reads.

Direction: every comparison is ``a - b`` (ratios ``a / b``) for arms ``a < b`` in sorted order,
as the Iowa MRMC program reports "trt0 - trt1".
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from metrics._agreement import (
    cohen_kappa_table,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac1_table,
    percent_agreement_table,
)
from metrics._lazy import lazy_module
from metrics._mrmc import mrmc
from metrics._proportions import difference_ci, risk_ratio_ci
from metrics._roc import compare_aucs
from metrics._tests2x2 import mcnemar
from metrics._types import Estimate
from radqa.errors import InsufficientDataError

if TYPE_CHECKING:
    from scipy import stats
else:
    stats = lazy_module("scipy.stats")

#: Outcome name -> (which reads count: reference label or None for all, event given label/ref).
OUTCOMES: dict[str, tuple[int | None, Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "missed finding (FN / reference positives)": (1, lambda lab, ref: lab == 0),
    "correct read (accuracy)": (None, lambda lab, ref: lab == ref),
    "sensitivity": (1, lambda lab, ref: lab == 1),
    "specificity": (0, lambda lab, ref: lab == 0),
}
ENDPOINT_OUTCOMES = {
    "missed_findings": ["missed finding (FN / reference positives)"],
    "accuracy": ["correct read (accuracy)", "sensitivity", "specificity"],
}
GEE_METHOD = (
    "GEE (Liang & Zeger 1986), binomial logit, exchangeable working correlation, "
    "robust (sandwich) SE, statsmodels"
)


def arm_pairs(arms: list[str]) -> list[tuple[str, str]]:
    """Every pair (a, b) of arms with a before b in sorted order."""
    return list(itertools.combinations(sorted(arms), 2))


def _row(**values: object) -> dict[str, object]:
    return values


def estimate_fields(e: Estimate) -> dict[str, object]:
    return {
        "estimate": e.value,
        "ci_low": e.low,
        "ci_high": e.high,
        "se": e.se,
        "method": e.method,
        "note": e.note,
    }


def _events(counts: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Rows of ``counts`` (ref_label, label, n, ...) in the outcome's subset, with ``event``."""
    subset, event = OUTCOMES[outcome]
    rows = counts if subset is None else counts[counts["ref_label"] == subset]
    rows = rows.copy()
    rows["event"] = event(rows["label"].to_numpy(), rows["ref_label"].to_numpy()).astype(int)
    return rows


# --------------------------------------------------------------------------- parallel
def parallel_comparisons(
    arm_counts: pd.DataFrame, outcomes: list[str], *, alpha: float
) -> pd.DataFrame:
    """Difference of proportions (Newcombe 1998) and risk ratio (Katz 1978) per arm pair.

    ``arm_counts`` has ``arm, ref_label, label, n`` (reads of the analysed cases).
    """
    rows = []
    arms = sorted(arm_counts["arm"].unique())
    for outcome in outcomes:
        ev = _events(arm_counts, outcome)
        per_arm = ev.groupby("arm").apply(
            lambda g: pd.Series(
                {"events": int((g["event"] * g["n"]).sum()), "n": int(g["n"].sum())}
            ),
            include_groups=False,
        )
        per_arm = per_arm.reindex(arms, fill_value=0)
        for a, b in arm_pairs(arms):
            ea, na, eb, nb = (int(per_arm.loc[x, k]) for x in (a, b) for k in ("events", "n"))
            base = dict(
                outcome=outcome, comparison=f"{a} vs {b}", events_a=ea, n_a=na, events_b=eb, n_b=nb
            )
            diff = difference_ci(ea, na, eb, nb, method="newcombe", alpha=alpha)
            rows.append(
                {
                    **base,
                    "statistic": f"difference of proportions ({a} - {b})",
                    **estimate_fields(diff),
                }
            )
            ratio = risk_ratio_ci(ea, na, eb, nb, alpha=alpha)
            rows.append({**base, "statistic": f"risk ratio ({a} / {b})", **estimate_fields(ratio)})
    return pd.DataFrame(rows)


def gee_arm_effect(counts: pd.DataFrame, a: str, b: str, *, alpha: float) -> dict[str, object]:
    """Cluster-adjusted log odds ratio of the event in arm ``a`` versus arm ``b``.

    Parameters
    ----------
    counts : DataFrame
        ``cluster, arm, event, n``: read counts per cluster, arm and outcome.

    Notes
    -----
    The counts are expanded back to one row per read with ``numpy.repeat`` and fitted with
    statsmodels ``GEE`` (Liang & Zeger 1986): logit link, binomial variance, exchangeable
    working correlation within clusters, robust sandwich standard errors. With few clusters
    (fewer than about 40) the sandwich SE is biased downward (Mancl & DeRouen 2001): the note
    says so.
    """
    rows = counts[counts["arm"].isin([a, b]) & (counts["n"] > 0)]
    idx = np.repeat(np.arange(len(rows)), rows["n"].to_numpy(dtype=int))
    endog = rows["event"].to_numpy(dtype=float)[idx]
    treat = (rows["arm"].to_numpy() == a).astype(float)[idx]
    groups = pd.factorize(rows["cluster"].to_numpy())[0][idx]
    n_clusters = int(len(np.unique(groups)))
    out: dict[str, object] = {"n_reads": int(len(endog)), "clusters": n_clusters}
    nan = float("nan")
    undefined = {
        "estimate": nan,
        "ci_low": nan,
        "ci_high": nan,
        "se": nan,
        "p_value": nan,
        "odds_ratio": nan,
        "method": GEE_METHOD,
    }
    if n_clusters < 2:
        return {**out, **undefined, "note": f"{n_clusters} cluster(s): GEE needs at least 2"}
    if endog.min() == endog.max() or treat.min() == treat.max():
        return {
            **out,
            **undefined,
            "note": "no variation in the outcome or the arm: log odds ratio not estimable",
        }
    import statsmodels.api as sm  # here, not at import: the dashboard starts faster

    order = np.argsort(groups, kind="stable")
    exog = sm.add_constant(treat[order])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = sm.GEE(
            endog[order],
            exog,
            groups=groups[order],
            family=sm.families.Binomial(),
            cov_struct=sm.cov_struct.Exchangeable(),
        )
        fit = model.fit()
    coef, se = float(fit.params[1]), float(fit.bse[1])
    if not (math.isfinite(coef) and math.isfinite(se)) or abs(coef) > 30:
        return {
            **out,
            **undefined,
            "note": "GEE did not converge (separation: an arm with all or no events in a "
            "cluster); log odds ratio not estimable",
        }
    z = float(stats.norm.ppf(1 - alpha / 2))
    notes = [str(w.message).splitlines()[0] for w in caught]
    if n_clusters < 40:
        notes.append(f"only {n_clusters} clusters: the robust SE may be too small")
    return {
        **out,
        "estimate": coef,
        "ci_low": coef - z * se,
        "ci_high": coef + z * se,
        "se": se,
        "p_value": float(2 * stats.norm.sf(abs(coef / se))) if se > 0 else nan,
        "odds_ratio": math.exp(coef),
        "working_correlation": float(fit.cov_struct.dep_params),
        "method": GEE_METHOD,
        "note": "; ".join(dict.fromkeys(notes)) or None,
    }


def cluster_comparisons(
    cluster_counts: dict[str, pd.DataFrame], arms: list[str], outcomes: list[str], *, alpha: float
) -> pd.DataFrame:
    """GEE log odds ratio per cluster variable, outcome and arm pair."""
    rows = []
    for cluster, counts in cluster_counts.items():
        for outcome in outcomes:
            ev = _events(counts, outcome)
            ev = ev.groupby(["cluster", "arm", "event"], as_index=False)["n"].sum()
            for a, b in arm_pairs(arms):
                rows.append(
                    {
                        "outcome": outcome,
                        "comparison": f"{a} vs {b}",
                        "statistic": f"log odds ratio ({a} vs {b})",
                        "clustered_by": cluster,
                        **gee_arm_effect(ev, a, b, alpha=alpha),
                    }
                )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- paired
def paired_comparisons(
    units: dict[tuple[str, str], pd.DataFrame],
    outcomes: list[str],
    *,
    alpha: float,
    use_ratings: bool,
) -> pd.DataFrame:
    """McNemar (1947) and the paired difference (Newcombe 1998) per outcome; DeLong AUCs.

    ``units[(a, b)]`` has ``ref_label, label_first, label_second, score_first, score_second``,
    one row per pairing unit read in both arms.
    """
    rows = []
    for (a, b), frame in units.items():
        ref = frame["ref_label"].to_numpy()
        for outcome in outcomes:
            subset, event = OUTCOMES[outcome]
            keep = np.ones(len(ref), bool) if subset is None else ref == subset
            ea = event(frame["label_first"].to_numpy()[keep], ref[keep])
            eb = event(frame["label_second"].to_numpy()[keep], ref[keep])
            table = [
                [int((ea & eb).sum()), int((ea & ~eb).sum())],
                [int((~ea & eb).sum()), int((~ea & ~eb).sum())],
            ]
            base = dict(
                outcome=outcome,
                comparison=f"{a} vs {b}",
                pairs=int(keep.sum()),
                both=table[0][0],
                a_only=table[0][1],
                b_only=table[1][0],
                neither=table[1][1],
            )
            test = mcnemar(table, alpha=alpha)
            exact = mcnemar(table, exact=True, alpha=alpha)
            assert test.estimate is not None
            rows.append(
                {
                    **base,
                    "statistic": f"paired difference ({a} - {b})",
                    **estimate_fields(test.estimate),
                    "test": test.method,
                    "test_statistic": test.statistic,
                    "p_value": test.p_value,
                    "p_value_exact": exact.p_value,
                }
            )
        what = "ratings" if use_ratings else "binary labels (no ratings)"
        res = compare_aucs(
            ref,
            frame["score_first"].to_numpy(dtype=float),
            frame["score_second"].to_numpy(dtype=float),
            alpha=alpha,
        )
        assert res.estimate is not None
        rows.append(
            {
                "outcome": f"AUC of the reads' {what}",
                "comparison": f"{a} vs {b}",
                "pairs": len(frame),
                "statistic": f"AUC difference ({a} - {b})",
                **estimate_fields(res.estimate),
                "test": res.method,
                "test_statistic": res.statistic,
                "p_value": res.p_value,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- MRMC
def mrmc_tables(frame: pd.DataFrame, *, alpha: float) -> dict[str, pd.DataFrame]:
    """Obuchowski-Rockette results (three analyses), per-arm and per-reader AUCs."""
    res = mrmc(
        frame,
        treatment="treatment",
        reader="reader",
        case="case",
        truth="truth",
        rating="rating",
        alpha=alpha,
    )
    analyses = {
        "random readers, random cases (RRRC)": (res.random, "F"),
        "fixed readers, random cases (FRRC)": (res.fixed_readers, "chi-square"),
        "random readers, fixed cases (RRFC)": (res.fixed_cases, "F"),
    }
    tests, aucs = [], []
    for name, (an, stat_name) in analyses.items():
        for (a, b), diff in an.differences.items():
            tests.append(
                {
                    "analysis": name,
                    "comparison": f"{a} - {b}",
                    "statistic_name": stat_name,
                    "statistic": an.statistic,
                    "df_numerator": an.df[0],
                    "df_denominator": an.df[1] if len(an.df) > 1 else None,
                    "p_value": an.p_value,
                    "difference": diff.value,
                    "se": diff.se,
                    "ci_low": diff.low,
                    "ci_high": diff.high,
                    "method": an.method,
                }
            )
        for arm, e in an.treatment_aucs.items():
            aucs.append(
                {
                    "analysis": name,
                    "arm": arm,
                    "auc": e.value,
                    "se": e.se,
                    "ci_low": e.low,
                    "ci_high": e.high,
                    "method": e.method,
                }
            )
    readers = res.reader_aucs.stack().rename("auc").reset_index()
    readers.columns = ["reader", "arm", "auc"]
    vc = res.variance_components
    components = pd.DataFrame(
        {
            "component": [
                "var(R)",
                "var(TR)",
                "Cov1",
                "Cov2",
                "Cov3",
                "Var(error)",
                "MS(T)",
                "MS(R)",
                "MS(TR)",
                "cases negative",
                "cases positive",
            ],
            "value": [
                vc.var_r,
                vc.var_tr,
                vc.cov1,
                vc.cov2,
                vc.cov3,
                vc.var_error,
                res.mean_squares["T"],
                res.mean_squares["R"],
                res.mean_squares["TR"],
                *res.n_cases,
            ],
        }
    )
    return {
        "mrmc": pd.DataFrame(tests),
        "mrmc_arm_aucs": pd.DataFrame(aucs),
        "reader_aucs": readers,
        "mrmc_variance": components,
    }


# --------------------------------------------------------------------------- agreement
def _coefficient(fn: Callable[[], Estimate]) -> dict[str, object]:
    try:
        return estimate_fields(fn())
    except InsufficientDataError as exc:
        nan = float("nan")
        return {
            "estimate": nan,
            "ci_low": nan,
            "ci_high": nan,
            "se": None,
            "method": "",
            "note": f"not computable: {exc}",
        }


def table_agreement(
    who: str, arm: str, tp: int, fp: int, fn: int, tn: int, *, alpha: float
) -> list[dict[str, object]]:
    """Cohen's kappa, Gwet's AC1 and percent agreement of a test against the reference."""
    table = [[tp, fp], [fn, tn]]
    base = {"comparison": who, "arm": arm, "subjects": tp + fp + fn + tn}
    return [
        {
            **base,
            "coefficient": "Cohen kappa",
            **_coefficient(lambda: cohen_kappa_table(table, alpha=alpha)),
        },
        {
            **base,
            "coefficient": "Gwet AC1",
            **_coefficient(lambda: gwet_ac1_table(table, alpha=alpha)),
        },
        {
            **base,
            "coefficient": "percent agreement",
            **_coefficient(lambda: percent_agreement_table(table, alpha=alpha)),
        },
    ]


def reader_agreement_rows(
    rater_counts: pd.DataFrame, pair_tables: pd.DataFrame, *, alpha: float, max_pairs: int = 45
) -> list[dict[str, object]]:
    """Fleiss' kappa and Gwet's AC1 of all readers per arm; Cohen's kappa per reader pair."""
    rows: list[dict[str, object]] = []
    for arm, g in rater_counts.groupby("arm", sort=True):
        counts = g[["absent", "present"]].to_numpy()
        base = {
            "comparison": "readers with each other (all readers)",
            "arm": arm,
            "subjects": int((counts.sum(axis=1) >= 2).sum()),
        }
        rows.append(
            {
                **base,
                "coefficient": "Fleiss kappa",
                **_coefficient(functools.partial(fleiss_kappa, counts, alpha=alpha)),
            }
        )
        rows.append(
            {
                **base,
                "coefficient": "Gwet AC1",
                **_coefficient(functools.partial(gwet_ac1, counts, alpha=alpha)),
            }
        )
    for arm, g in pair_tables.groupby("arm", sort=True):
        if len(g) > max_pairs:
            rows.append(
                {
                    "comparison": "reader pairs",
                    "arm": arm,
                    "coefficient": "Cohen kappa",
                    "note": f"{len(g)} reader pairs, more than {max_pairs}: not listed",
                }
            )
            continue
        for r in g.itertuples(index=False):
            table = [[r.both_present, r.a_only], [r.b_only, r.both_absent]]
            rows.append(
                {
                    "comparison": f"reader {r.reader_a} vs reader {r.reader_b}",
                    "arm": arm,
                    "subjects": int(np.sum(table)),
                    "coefficient": "Cohen kappa",
                    **_coefficient(functools.partial(cohen_kappa_table, table, alpha=alpha)),
                }
            )
    return rows
