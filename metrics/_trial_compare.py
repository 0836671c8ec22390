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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from metrics._agreement import (
    cohen_kappa_table,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac1_table,
)
from metrics._lazy import lazy_module
from metrics._mrmc import MRMCResult, _aucs_and_jackknife, mrmc, or_analysis
from metrics._proportions import difference_ci, proportion_ci, risk_ratio_ci
from metrics._roc import compare_aucs
from metrics._tests2x2 import mcnemar
from metrics._types import Estimate
from radqa.errors import InsufficientDataError

# The accuracy measures of a 2x2 table, in the order the export lists them.
ACCURACY_MEASURES = (
    "sensitivity", "specificity", "ppv", "npv", "lr_positive", "lr_negative", "accuracy",
    "prevalence",
)  # fmt: skip

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
            # the accuracy of the estimates sheet: the same count, so the same (Wilson) interval
            **estimate_fields(proportion_ci(tp + tn, tp + fp + fn + tn, alpha=alpha)),
            "note": "equals the accuracy on the estimates sheet (same interval)",
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


# --------------------------------------------------------------------------- MRMC reader level
#: Below this many cases in a measure's denominator the OR interval gets a note.
FEW_CASES = 10
OR_READER_METHOD = (
    "reader-averaged; Obuchowski-Rockette (1995) variance (jackknife over cases, readers and "
    "cases random), Hillis (2007) df, t interval"
)


def _safe(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _kappa(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    n = tp + fp + fn + tn
    po = _safe(tp + tn, n)
    pe = _safe((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), n * n)
    return _safe(po - pe, 1.0 - pe)


def _ac1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> np.ndarray:
    n = tp + fp + fn + tn
    pi = _safe(2 * tp + fp + fn, 2 * n)
    pe = 2.0 * pi * (1.0 - pi)
    return _safe(_safe(tp + tn, n) - pe, 1.0 - pe)


#: Figure of merit of a reader's 2x2 against the reference -> (function, range for clipping).
READER_MEASURES: dict[
    str,
    tuple[
        Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray], tuple[float, float]
    ],
] = {
    "sensitivity": (lambda tp, fp, fn, tn: _safe(tp, tp + fn), (0.0, 1.0)),
    "specificity": (lambda tp, fp, fn, tn: _safe(tn, tn + fp), (0.0, 1.0)),
    "ppv": (lambda tp, fp, fn, tn: _safe(tp, tp + fp), (0.0, 1.0)),
    "npv": (lambda tp, fp, fn, tn: _safe(tn, tn + fn), (0.0, 1.0)),
    "accuracy": (lambda tp, fp, fn, tn: _safe(tp + tn, tp + fp + fn + tn), (0.0, 1.0)),
    "missed findings rate": (lambda tp, fp, fn, tn: _safe(fn, tp + fn), (0.0, 1.0)),
    "Cohen kappa": (_kappa, (-1.0, 1.0)),
    "Gwet AC1": (_ac1, (-1.0, 1.0)),
}


@dataclass(frozen=True)
class CrossedReads:
    """A fully crossed arm x reader x case study as arrays (labels, ratings, truth, levels)."""

    label: np.ndarray  # [T, R, K] 0/1
    rating: np.ndarray  # [T, R, K]
    truth: np.ndarray  # [K] bool
    arms: list[str]
    readers: list[str]
    levels: pd.DataFrame  # one row per case (K), a column per dimension

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, dimensions: list[str]) -> CrossedReads:
        """From ``treatment, reader, case, truth, label, rating`` and dimension columns."""
        t_codes, arms = pd.factorize(frame["treatment"], sort=True)
        r_codes, readers = pd.factorize(frame["reader"], sort=True)
        k_codes, cases = pd.factorize(frame["case"], sort=True)
        shape = (len(arms), len(readers), len(cases))
        if len(frame) != shape[0] * shape[1] * shape[2]:
            raise InsufficientDataError(
                f"{len(frame)} reads for {shape[0]} arms x {shape[1]} readers x {shape[2]} "
                "cases: the reader-level analysis needs a fully crossed study"
            )
        label, rating = np.full(shape, np.nan), np.full(shape, np.nan)
        label[t_codes, r_codes, k_codes] = frame["label"].to_numpy(dtype=float)
        rating[t_codes, r_codes, k_codes] = frame["rating"].to_numpy(dtype=float)
        truth = np.zeros(shape[2], dtype=bool)
        truth[k_codes] = frame["truth"].to_numpy() == 1
        first = ~frame.duplicated("case").to_numpy()
        levels = pd.DataFrame(
            {d: frame[d].to_numpy()[first] for d in dimensions},
            index=k_codes[first],
        ).sort_index()
        return cls(label, rating, truth, [str(a) for a in arms], [str(r) for r in readers], levels)

    def subset(self, keep: np.ndarray) -> CrossedReads:
        return CrossedReads(
            self.label[..., keep],
            self.rating[..., keep],
            self.truth[keep],
            self.arms,
            self.readers,
            self.levels[keep],
        )


def reader_or(reads: CrossedReads, measure: str, *, alpha: float) -> MRMCResult:
    """OR analysis of a reader-level 2x2 measure (:data:`READER_MEASURES`) of 0/1 calls.

    The figure of merit of reader r in arm t is the measure of that reader's 2x2 table against
    the reference; leaving case k out subtracts its cell from the table, so the case jackknife
    needs no loop. The treatment means are reader averages (equal to the pooled proportion when
    every reader reads the same cases, as in a fully crossed study, for sensitivity,
    specificity and accuracy).
    """
    fn_measure = READER_MEASURES[measure][0]
    cells = _reader_cells(reads)
    totals = [c.sum(axis=-1).astype(float) for c in cells]
    fom = fn_measure(*totals)
    jack = fn_measure(*(t[..., None] - c for t, c in zip(totals, cells, strict=True)))
    return _or_of(reads, fom, jack, alpha)


def _reader_cells(reads: CrossedReads) -> list[np.ndarray]:
    """Each reader's and arm's 2x2 cells per case against the reference: tp, fp, fn, tn (boolean
    arrays of shape arms x readers x cases)."""
    lab = reads.label.astype(bool)
    truth = reads.truth[None, None, :]
    return [lab & truth, lab & ~truth, ~lab & truth, ~lab & ~truth]


def _or_of(reads: CrossedReads, fom: np.ndarray, jack: np.ndarray, alpha: float) -> MRMCResult:
    """:func:`or_analysis` of a figure of merit of ``reads`` and its case jackknife."""
    with np.errstate(all="ignore"):
        return or_analysis(
            fom,
            jack,
            list(reads.arms),
            list(reads.readers),
            alpha=alpha,
            n_cases=(int((~reads.truth).sum()), int(reads.truth.sum())),
        )


def reader_auc_or(reads: CrossedReads, *, alpha: float) -> MRMCResult:
    """OR analysis of the readers' empirical AUCs of their ratings (as :func:`mrmc`)."""
    if reads.truth.all() or not reads.truth.any():
        raise InsufficientDataError("no reference positives or negatives: AUC undefined")
    auc, jack = _aucs_and_jackknife(reads.rating, reads.truth)
    return _or_of(reads, auc, jack, alpha)


def _or_fields(
    e: Estimate, bounds: tuple[float, float], *, undefined: str | None = None
) -> dict[str, object]:
    """Estimate fields of an OR interval: clipped to the measure's range, empty if degenerate."""
    nan = float("nan")
    if undefined or not math.isfinite(e.value):
        return {"estimate": nan, "ci_low": nan, "ci_high": nan, "se": nan,
                "method": OR_READER_METHOD, "note": undefined or "undefined for some reader"}  # fmt: skip
    se = e.se if e.se is not None else nan
    if not (math.isfinite(se) and se > 0 and math.isfinite(e.low)):
        return {
            "estimate": e.value,
            "ci_low": nan,
            "ci_high": nan,
            "se": se,
            "method": OR_READER_METHOD,
            "note": "no variation between readers or cases (or too few cases for the "
            "jackknife): the OR interval is not estimable",
        }
    low, high = max(e.low, bounds[0]), min(e.high, bounds[1])
    clipped = low != e.low or high != e.high
    return {
        "estimate": e.value,
        "ci_low": low,
        "ci_high": high,
        "se": se,
        "method": OR_READER_METHOD,
        "note": f"interval clipped to [{bounds[0]:g}, {bounds[1]:g}]" if clipped else None,
    }


def _undefined_readers(reads: CrossedReads, measure: str) -> str | None:
    totals = [c.sum(axis=-1).astype(float) for c in _reader_cells(reads)]
    with np.errstate(all="ignore"):
        fom = READER_MEASURES[measure][0](*totals)
    bad = int((~np.isfinite(fom)).any(axis=0).sum())
    if not bad:
        return None
    why = {
        "sensitivity": "no reference positives",
        "missed findings rate": "no reference positives",
        "specificity": "no reference negatives",
        "ppv": "no positive calls",
        "npv": "no negative calls",
    }.get(measure, "a degenerate 2x2 table")
    return f"{measure} undefined for {bad} of {len(reads.readers)} readers ({why})"


def mrmc_reader_estimates(
    reads: CrossedReads, dimensions: list[str], *, alpha: float
) -> pd.DataFrame:
    """Reader rows of the estimates sheet for a fully crossed study, per arm and subgroup.

    Sensitivity, specificity, predictive values and accuracy are reader averages with the OR
    single-arm interval (readers and cases random), the AUC the OR reader-averaged AUC of the
    ratings (as in ``mrmc_arm_aucs``), prevalence a proportion of cases (each case once, Wilson
    interval). Likelihood ratios are given from the reader-averaged sensitivity and
    specificity without an interval.
    """
    rows: list[dict[str, object]] = []
    for dim in dimensions:
        levels = reads.levels[dim].astype(str).to_numpy()
        for level in sorted(set(levels)):
            sub = reads.subset(levels == level)
            per_arm: dict[str, dict[str, dict[str, object]]] = {a: {} for a in sub.arms}
            n_pos, n_neg = int(sub.truth.sum()), int((~sub.truth).sum())
            for measure in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
                undefined = _undefined_readers(sub, measure)
                res = reader_or(sub, measure, alpha=alpha)
                entering = {"sensitivity": n_pos, "specificity": n_neg}.get(measure, n_pos + n_neg)
                for arm in sub.arms:
                    fields = _or_fields(
                        res.random.treatment_aucs[arm],
                        READER_MEASURES[measure][1],
                        undefined=undefined,
                    )
                    if entering < FEW_CASES and not undefined:
                        few = f"only {entering} case(s) enter: the OR variance rests on few cases"
                        fields["note"] = f"{fields['note']}; {few}" if fields["note"] else few
                    per_arm[arm][measure] = fields
            try:
                auc = reader_auc_or(sub, alpha=alpha).random.treatment_aucs
                auc_fields = {a: _or_fields(auc[a], (0.0, 1.0)) for a in sub.arms}
            except InsufficientDataError as exc:
                auc_fields = {a: _or_fields(Estimate(0, 0, 0, 0, ""), (0, 1), undefined=str(exc))
                              for a in sub.arms}  # fmt: skip
            positives, cases = int(sub.truth.sum()), len(sub.truth)
            prevalence = estimate_fields(proportion_ci(positives, cases, alpha=alpha))
            prevalence["note"] = f"{positives} of {cases} cases (each case once)"
            for arm in sub.arms:
                m = per_arm[arm]
                sens = float(m["sensitivity"]["estimate"])  # type: ignore[arg-type]
                spec = float(m["specificity"]["estimate"])  # type: ignore[arg-type]
                lr = {}
                for name, value in (
                    ("lr_positive", _div(sens, 1.0 - spec)),
                    ("lr_negative", _div(1.0 - sens, spec)),
                ):
                    lr[name] = {
                        "estimate": value,
                        "ci_low": float("nan"),
                        "ci_high": float("nan"),
                        "se": float("nan"),
                        "method": "reader-averaged sensitivity and specificity",
                        "note": "no interval: no cluster-aware method for the ratio is "
                        "implemented; use the sensitivity and specificity intervals",
                    }
                ordered = {**m, **lr, "prevalence": prevalence}
                ordered = {k: ordered[k] for k in ACCURACY_MEASURES}
                ordered["auc"] = {
                    **auc_fields[arm],
                    "method": f"{OR_READER_METHOD}; empirical AUC of the reader ratings",
                }
                for name, values in ordered.items():
                    rows.append(
                        {
                            "subject": "readers",
                            "arm": arm,
                            "model": "",
                            "dimension": dim,
                            "level": level,
                            "measure": name,
                            **values,
                        }
                    )
    return pd.DataFrame(rows)


def _div(a: float, b: float) -> float:
    return a / b if b != 0 and math.isfinite(a) and math.isfinite(b) else float("nan")


def mrmc_reader_agreement(reads: CrossedReads, *, alpha: float) -> list[dict[str, object]]:
    """Readers vs the reference in a fully crossed study: reader-averaged coefficients, OR CIs.

    Cohen's kappa, Gwet's AC1 and percent agreement of each reader's 0/1 calls with the
    reference, averaged over readers, with the Obuchowski-Rockette single-arm interval (cases
    and readers random) instead of an SE that takes the pooled reads as independent.
    """
    rows: list[dict[str, object]] = []
    for coefficient, measure in (
        ("Cohen kappa", "Cohen kappa"),
        ("Gwet AC1", "Gwet AC1"),
        ("percent agreement", "accuracy"),
    ):
        res = reader_or(reads, measure, alpha=alpha)
        for arm in reads.arms:
            fields = _or_fields(res.random.treatment_aucs[arm], READER_MEASURES[measure][1])
            if measure == "accuracy":
                same = "equals the readers' accuracy on the estimates sheet (same interval)"
                fields["note"] = f"{fields['note']}; {same}" if fields["note"] else same
            rows.append(
                {
                    "comparison": "readers vs reference (reader-averaged)",
                    "arm": arm,
                    "subjects": len(reads.truth),
                    "coefficient": coefficient,
                    **fields,
                }
            )
    return rows
