"""Inter-rater agreement: Cohen's kappa, Fleiss' kappa, Gwet's AC1 and percent agreement.

Standard errors and intervals follow Gwet's R package irrCAC (Gwet 2014, *Handbook of
Inter-Rater Reliability*, 4th ed.; Gwet 2008, Br J Math Stat Psychol 61:29-48): the variance is
a linearisation over subjects and the interval is ``coef +/- t(1 - alpha/2, n - 1) * SE``, its
upper end capped at 1. Fleiss' null-hypothesis z test and per-category kappas follow Fleiss
(1971) as R's ``irr::kappam.fleiss`` computes them.

Inputs are either a square contingency table of two raters, or a subjects x categories matrix
of *counts* (cell = number of raters who put the subject in the category; rows may sum to
different numbers when ratings are missing). :func:`counts_from_ratings` builds the latter
from raw ratings (subjects x raters, NaN = not rated).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from metrics._lazy import lazy_function, lazy_module
from metrics._types import ZERO_SE, Estimate, TestResult, nan_estimate
from radqa.errors import InputError, InsufficientDataError

if TYPE_CHECKING:
    from scipy import stats
    from statsmodels.stats.inter_rater import cohens_kappa as _sm_cohens_kappa
else:
    stats = lazy_module("scipy.stats")
    _sm_cohens_kappa = lazy_function("statsmodels.stats.inter_rater", "cohens_kappa")

_WEIGHTS = (None, "linear", "quadratic")
_SE_METHODS = ("gwet", "fleiss")


# ----------------------------------------------------------------------------- inputs
def _matrix(data: object, name: str) -> tuple[np.ndarray, list[object]]:
    """A non-negative whole-number 2-D matrix and its column labels."""
    labels = list(data.columns) if isinstance(data, pd.DataFrame) else None
    try:
        mat = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must hold counts (numbers); found a value that is not") from None
    if mat.ndim != 2:
        raise InputError(f"{name} must be a 2-D matrix; found shape {mat.shape}")
    bad = ~np.isfinite(mat) | (mat < 0) | (mat != np.round(mat))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(
            f"{name} must hold non-negative whole counts; "
            f"found {float(mat[r, c]):g} at row {r}, column {c}"
        )
    return mat, labels if labels is not None else list(range(mat.shape[1]))


def _counts(counts: object) -> tuple[np.ndarray, list[object], str | None]:
    """Subjects x categories counts without unrated subjects, their labels and a note."""
    mat, labels = _matrix(counts, "counts")
    rated = mat.sum(axis=1) > 0
    note = None
    if not rated.all():
        note = f"{int((~rated).sum())} subject(s) without any rating left out"
        mat = mat[rated]
    if mat.shape[1] < 2:
        raise InputError(f"counts must have at least 2 categories (columns); found {mat.shape[1]}")
    n2 = int((mat.sum(axis=1) >= 2).sum())
    if n2 < 2:
        raise InsufficientDataError(
            f"agreement needs at least 2 subjects rated by 2 or more raters; found {n2}"
        )
    return mat, labels, note


def _table(table: object) -> tuple[np.ndarray, list[object]]:
    mat, labels = _matrix(table, "table")
    if mat.shape[0] != mat.shape[1]:
        raise InputError(
            f"table must be square (rater A rows x rater B columns); found {mat.shape}"
        )
    if mat.sum() < 2:
        raise InsufficientDataError(f"table must count at least 2 subjects; found {mat.sum():g}")
    return mat, labels


def counts_from_ratings(ratings: object) -> pd.DataFrame:
    """Subjects x categories count matrix from raw ratings.

    Parameters
    ----------
    ratings : DataFrame or 2-D array
        One row per subject, one column per rater; NaN / None / empty string = not rated.

    Returns
    -------
    DataFrame
        Index: the subjects that have at least one rating; columns: the categories used
        (sorted); cells: number of raters who chose that category.

    Examples
    --------
    >>> counts_from_ratings([[1, 1, None], [2, 1, 2]]).to_numpy().tolist()
    [[2, 0], [1, 2]]
    """
    frame = ratings if isinstance(ratings, pd.DataFrame) else pd.DataFrame(np.asarray(ratings))
    if frame.ndim != 2 or frame.shape[1] < 2:
        raise InputError(
            f"ratings must have one column per rater (at least 2); found shape {frame.shape}"
        )
    long = frame.replace("", np.nan).stack().rename("category").reset_index()
    if long.empty:
        raise InputError("ratings has no rating at all; every cell is missing")
    subject = long.columns[0]
    table = pd.crosstab(long[subject], long["category"])
    return table.reindex(sorted(table.columns, key=_sort_key), axis=1).rename_axis(None)


def _sort_key(value: object) -> tuple[int, object]:
    return (0, value) if isinstance(value, int | float | np.number) else (1, str(value))


def _estimate(
    value: float, var: float, n: int, alpha: float, method: str, note: str | None = None
) -> Estimate:
    """Gwet's interval: value +/- t(n-1) * SE, capped to [-1, 1] (irrCAC caps the top at 1).

    A variance of 0 (every subject agrees, or a rater uses one category) would give a
    zero-width interval, a certainty no finite sample has: the estimate is NaN with the reason.
    """
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be between 0 and 1 (exclusive); found {alpha}")
    if var <= ZERO_SE**2:
        why = (
            f"not estimable: the variance is 0 (value {float(value):.3g} from {n} subjects, "
            "every subject contributing the same), so no interval can be given"
        )
        return nan_estimate(method, f"{note}; {why}" if note else why)
    se = math.sqrt(max(var, 0.0))
    half = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1)) * se
    value = float(value)
    return Estimate(value, max(-1.0, value - half), min(1.0, value + half), se, method, note)


# ----------------------------------------------------------------------- weights
def _weight_matrix(weights: str | None, scores: np.ndarray) -> np.ndarray:
    """Agreement weights (1 on the diagonal) from category scores, as irrCAC's weights.gen."""
    if weights not in _WEIGHTS:
        raise InputError(f"weights must be one of {list(_WEIGHTS)}; found {weights!r}")
    q = scores.size
    if weights is None:
        return np.eye(q)
    dist = np.abs(scores[:, None] - scores[None, :]) / (scores.max() - scores.min())
    return np.asarray(1.0 - (dist if weights == "linear" else dist**2), dtype=float)


def _category_scores(labels: list[object]) -> np.ndarray:
    """The categories' own values when all are numbers, else their positions 1..q."""
    try:
        scores = np.array([float(v) for v in labels])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.arange(1.0, len(labels) + 1.0)
    is_number = all(isinstance(v, int | float | np.number) for v in labels)
    return scores if is_number else np.arange(1.0, len(labels) + 1.0)


# -------------------------------------------------------------------- Cohen's kappa
def cohen_kappa(
    a: object,
    b: object,
    *,
    weights: str | None = None,
    alpha: float = 0.05,
    se_method: str = "gwet",
) -> Estimate:
    """Cohen's kappa of two raters from their labels.

    Parameters
    ----------
    a, b : array-like
        Labels of the two raters for the same subjects (any hashable categories; the
        categories are the union of both). Missing labels are refused.
    weights : {None, "linear", "quadratic"}
        Weighted kappa (Cohen 1968). Numeric categories are weighted by their values,
        others by their sorted positions.
    alpha : float
        1 - confidence level.
    se_method : {"gwet", "fleiss"}
        ``"gwet"`` (default): Gwet's linearised variance and a t(n-1) interval, as irrCAC's
        ``kappa2.table``. ``"fleiss"``: the large-sample variance of Fleiss, Cohen & Everitt
        (1969) and a normal interval, from statsmodels.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> round(cohen_kappa(["x", "x", "y", "y"], ["x", "y", "y", "y"]).value, 3)
    0.5
    """
    left, right = pd.Series(np.asarray(a, dtype=object)), pd.Series(np.asarray(b, dtype=object))
    if left.size != right.size:
        raise InputError(f"a and b must have the same length; found {left.size} and {right.size}")
    missing = left.isna() | right.isna()
    if missing.any():
        raise InputError(
            f"a and b must both label every subject; found {int(missing.sum())} subject(s) with a "
            f"missing label, first at position {int(np.flatnonzero(missing)[0])}"
        )
    cats = sorted(set(left) | set(right), key=_sort_key)
    table = pd.crosstab(
        pd.Categorical(left, categories=cats), pd.Categorical(right, categories=cats), dropna=False
    )
    return cohen_kappa_table(
        pd.DataFrame(table.to_numpy(), columns=cats),
        weights=weights,
        alpha=alpha,
        se_method=se_method,
    )


def cohen_kappa_table(
    table: object,
    *,
    weights: str | None = None,
    alpha: float = 0.05,
    se_method: str = "gwet",
) -> Estimate:
    """Cohen's kappa from a square contingency table (rater A rows, rater B columns).

    Same options as :func:`cohen_kappa`; with ``se_method="gwet"`` this is irrCAC's
    ``kappa2.table`` (Gwet 2014, ch. 5). Category scores for weights are the column labels of
    a DataFrame when they are numbers, else 1..q.
    """
    if se_method not in _SE_METHODS:
        raise InputError(f"se_method must be one of {list(_SE_METHODS)}; found {se_method!r}")
    mat, labels = _table(table)
    scores = _category_scores(labels)
    w = _weight_matrix(weights, scores)
    n = mat.sum()
    p = mat / n
    row, col = p.sum(axis=1), p.sum(axis=0)
    pa = float((w * p).sum())
    pe = float((w * np.outer(row, col)).sum())
    if pe >= 1.0:  # both raters used one and the same category: kappa is 0 / 0
        return nan_estimate(
            "Cohen (1960)",
            f"not estimable: both raters put all {int(n)} subjects in one category, so "
            "chance agreement is 1 and kappa (observed - chance) / (1 - chance) is 0 / 0",
        )
    one_category = [
        who for who, m in (("A (rows)", row), ("B (columns)", col)) if (m > 0).sum() < 2
    ]
    if one_category:  # kappa is 0 whatever the other rater says, with a variance of 0
        return nan_estimate(
            "Cohen (1960)",
            f"not estimable: rater {one_category[0]} used a single category for all "
            f"{int(n)} subjects, so kappa is 0 by construction",
        )
    kappa = (pa - pe) / (1.0 - pe)
    name = "Cohen (1960)" if weights is None else f"Cohen (1968) {weights}-weighted"
    if se_method == "fleiss":
        wt = None if weights is None else weights
        res = _sm_cohens_kappa(mat, weights=None if wt is None else scores, wt=wt)
        z = float(stats.norm.ppf(1.0 - alpha / 2.0))
        se = float(res.std_kappa)
        method = f"{name}, Fleiss-Cohen-Everitt (1969) SE"
        return Estimate(kappa, kappa - z * se, min(1.0, kappa + z * se), se, method)
    if np.trace(mat) == n:  # Gwet's variance of a kappa of 1 is 0: say so in words
        return nan_estimate(
            f"{name}, Gwet (2014) SE",
            f"not estimable: the raters agreed on all {int(n)} subjects, so kappa is 1 with "
            "a variance of 0 and no confidence interval can be given",
        )
    pb_k = w @ col  # weighted column margins, one per row category
    pbl_ = w.T @ row  # weighted row margins, one per column category
    inner = (w - (1.0 - kappa) * (pb_k[:, None] + pbl_[None, :])) ** 2
    var = float((p * inner).sum() - (pa - 2.0 * (1.0 - kappa) * pe) ** 2) / (n * (1.0 - pe) ** 2)
    return _estimate(kappa, var, int(n), alpha, f"{name}, Gwet (2014) SE")


# ---------------------------------------------------------- multi-rater coefficients
class _Parts(NamedTuple):
    n: int  # subjects with at least one rating
    n2: int  # subjects with at least two ratings
    r: np.ndarray  # raters per subject
    two: np.ndarray  # r >= 2
    pa_i: np.ndarray  # observed agreement per subject (0 where r < 2)
    pa: float  # observed agreement
    pi: np.ndarray  # category shares


def _agreement_parts(mat: np.ndarray) -> _Parts:
    """Per-subject pieces shared by Fleiss' kappa, AC1 and percent agreement (irrCAC)."""
    n = mat.shape[0]
    r = mat.sum(axis=1)
    two = r >= 2
    n2 = int(two.sum())
    den = np.where(two, r * (r - 1.0), 1.0)
    pa_i = np.where(two, (mat * (mat - 1.0)).sum(axis=1) / den, 0.0)
    pa = float(pa_i[two].mean())
    pi = (mat / r[:, None]).mean(axis=0)  # category shares, each subject weighted equally
    return _Parts(n, n2, r, two, pa_i, pa, pi)


def _linearised(coef: float, parts: _Parts, pe: float, pe_i: np.ndarray) -> float:
    """Gwet's (2008) variance of (pa - pe)/(1 - pe) from per-subject contributions."""
    n = parts.n
    coef_i = (n / parts.n2) * (parts.pa_i - pe * parts.two) / (1.0 - pe)
    coef_i = coef_i - 2.0 * (1.0 - coef) * (pe_i - pe) / (1.0 - pe)
    return float(((coef_i - coef) ** 2).sum() / (n * (n - 1.0)))


def fleiss_kappa(counts: object, *, alpha: float = 0.05) -> Estimate:
    """Fleiss' kappa for many raters, with Gwet's standard error.

    Parameters
    ----------
    counts : DataFrame or 2-D array
        Subjects x categories counts of raters (rows may sum to different numbers).
    alpha : float
        1 - confidence level.

    Returns
    -------
    Estimate
        Fleiss (1971) kappa; SE and t(n-1) interval as irrCAC's ``fleiss.kappa.dist``
        (Gwet 2014). Subjects rated once count in the category shares but not in the
        observed agreement, as in irrCAC.
    """
    mat, _, note = _counts(counts)
    parts = _agreement_parts(mat)
    pi = parts.pi
    pe = float((pi**2).sum())
    if pe >= 1.0:
        nan = float("nan")
        return Estimate(nan, nan, nan, None, "Fleiss (1971)", "every rating is one category")
    kappa = (parts.pa - pe) / (1.0 - pe)
    pe_i = (mat @ pi) / parts.r
    var = _linearised(kappa, parts, pe, pe_i)
    return _estimate(kappa, var, parts.n, alpha, "Fleiss (1971), Gwet (2014) SE", note)


def gwet_ac1(counts: object, *, alpha: float = 0.05) -> Estimate:
    """Gwet's AC1 for many raters (Gwet 2008), as irrCAC's ``gwet.ac1.dist`` / ``gwet.ac1.raw``.

    Parameters
    ----------
    counts : DataFrame or 2-D array
        Subjects x categories counts of raters (rows may sum to different numbers).
    alpha : float
        1 - confidence level.
    """
    mat, _, note = _counts(counts)
    parts = _agreement_parts(mat)
    pi, q = parts.pi, mat.shape[1]
    pe = float((pi * (1.0 - pi)).sum() / (q - 1))
    ac1 = (parts.pa - pe) / (1.0 - pe)
    pe_i = (mat @ (1.0 - pi)) / parts.r / (q - 1)
    var = _linearised(ac1, parts, pe, pe_i)
    return _estimate(ac1, var, parts.n, alpha, "Gwet AC1 (2008)", note)


def gwet_ac1_table(table: object, *, alpha: float = 0.05) -> Estimate:
    """Gwet's AC1 of two raters from a square contingency table (irrCAC ``gwet.ac1.table``)."""
    mat, _ = _table(table)
    q = mat.shape[0]
    n = mat.sum()
    p = mat / n
    pi = (p.sum(axis=1) + p.sum(axis=0)) / 2.0
    pa = float(np.trace(p))
    pe = float((pi * (1.0 - pi)).sum() / (q - 1))
    ac1 = (pa - pe) / (1.0 - pe)
    inner = np.eye(q) - 2.0 * (1.0 - ac1) * (1.0 - (pi[:, None] + pi[None, :]) / 2.0) / (q - 1)
    var = float((p * inner**2).sum() - (pa - 2.0 * (1.0 - ac1) * pe) ** 2) / (n * (1.0 - pe) ** 2)
    return _estimate(ac1, var, int(n), alpha, "Gwet AC1 (2008)")


def percent_agreement(counts: object, *, alpha: float = 0.05) -> Estimate:
    """Share of agreeing rater pairs per subject, averaged (irrCAC ``pa.coeff.raw``, Gwet 2014).

    Subjects rated by fewer than 2 raters do not count in the value.
    """
    mat, _, note = _counts(counts)
    parts = _agreement_parts(mat)
    n, n2, pa = parts.n, parts.n2, parts.pa
    if pa in (0.0, 1.0):  # Gwet's SE is 0 at the bounds: Wilson over the subjects instead
        return _agreement_at_bound(int(pa * n2), n2, alpha, "Gwet's SE", note)
    pa_i = (n / n2) * parts.pa_i
    var = float(((pa_i - pa) ** 2).sum() / (n * (n - 1.0)))
    return _estimate(pa, var, n, alpha, "percent agreement, Gwet (2014) SE", note)


def _agreement_at_bound(
    agree: int, n: int, alpha: float, se_name: str, note: str | None = None
) -> Estimate:
    """Percent agreement of 0% or 100% (``agree`` of ``n``), where ``se_name`` is 0: the Wilson
    (1927) interval, which a proportion at its bound still has."""
    from metrics._proportions import proportion_ci  # noqa: PLC0415

    w = proportion_ci(agree, n, alpha=alpha, method="wilson")
    pa = agree / n
    method = f"percent agreement, Wilson (1927) interval at {pa:.0%}, where {se_name} is 0"
    return Estimate(float(pa), w.low, w.high, None, method, note)


def percent_agreement_table(table: object, *, alpha: float = 0.05) -> Estimate:
    """Percent agreement of two raters from a square table (irrCAC ``pa2.table``)."""
    mat, _ = _table(table)
    n = mat.sum()
    agree = float(np.trace(mat))
    pa = agree / n
    if pa in (0.0, 1.0):  # the Wald SE is 0 at the bounds: the Wilson score interval instead
        return _agreement_at_bound(int(agree), int(n), alpha, "Gwet's (Wald) SE")
    return _estimate(pa, pa * (1.0 - pa) / n, int(n), alpha, "percent agreement, Gwet (2014) SE")


# ----------------------------------------------------- Fleiss' null test and categories
def _equal_raters(counts: object) -> tuple[np.ndarray, list[object], int]:
    mat, labels, _ = _counts(counts)
    r = np.unique(mat.sum(axis=1))
    if r.size != 1:
        raise InputError(
            "Fleiss' z test and per-category kappas need the same number of raters for every "
            f"subject; found row totals {r.astype(int).tolist()}"
        )
    return mat, labels, int(r[0])


def fleiss_kappa_by_category(counts: object) -> pd.Series:
    """Fleiss' (1971) kappa of each category against all others (as ``irr::kappam.fleiss``).

    Returns
    -------
    Series
        One kappa per category, indexed by the category labels (column names of a DataFrame).
    """
    mat, labels, k = _equal_raters(counts)
    n = mat.shape[0]
    pj = mat.sum(axis=0) / (n * k)
    with np.errstate(divide="ignore", invalid="ignore"):
        pjk = ((mat**2).sum(axis=0) - n * k * pj) / (n * k * (k - 1) * pj)
        kappa = (pjk - pj) / (1.0 - pj)
    return pd.Series(kappa, index=labels, name="kappa")


def fleiss_kappa_test(counts: object, *, alpha: float = 0.05) -> TestResult:
    """Fleiss' (1971) z test of H0: kappa = 0, with the standard error under the null.

    This is the z that ``irr::kappam.fleiss`` prints (Fleiss, Nee & Landis 1979). Every
    subject must have the same number of raters. The attached estimate carries Gwet's SE and
    interval (:func:`fleiss_kappa`), which is the one to report; the null SE only tests.
    """
    mat, _, k = _equal_raters(counts)
    n = mat.shape[0]
    pj = mat.sum(axis=0) / (n * k)
    pq = pj * (1.0 - pj)
    var0 = 2.0 / (pq.sum() ** 2 * n * k * (k - 1)) * (pq.sum() ** 2 - (pq * (1 - 2 * pj)).sum())
    est = fleiss_kappa(mat, alpha=alpha)
    z = est.value / math.sqrt(var0)
    p = float(2.0 * stats.norm.sf(abs(z)))
    return TestResult(z, p, None, est, "Fleiss (1971) z test, SE under H0")
