"""Empirical ROC AUC with DeLong variance, and the DeLong test comparing two AUCs.

The variance follows DeLong, DeLong & Clarke-Pearson (1988), computed with the fast midrank
algorithm of Sun & Xu (2014); the numbers match R's pROC (``var(roc)``, ``ci.auc``,
``roc.test(method="delong")``).

Placement values (for SQL implementations)
------------------------------------------
Everything DeLong needs is in the *placement values* of each case, so a grouped query can
compute the AUC and its variance per group without Python. With ``m`` positives ``x_i`` and
``n`` negatives ``y_j`` in a group:

- for each positive ``i``: ``V10_i = (#negatives below x_i + 0.5 * #negatives tied with x_i) / n``
- for each negative ``j``: ``V01_j = (#positives above y_j + 0.5 * #positives tied with y_j) / m``
- ``AUC = mean(V10) = mean(V01)``
- ``var(AUC) = s10 / m + s01 / n`` where ``s10`` and ``s01`` are the sample variances
  (``ddof=1``, SQL ``var_samp``) of ``V10`` over positives and of ``V01`` over negatives.

``#negatives below + 0.5 * #tied`` is a difference of midranks: the case's midrank among all
cases of the group minus its midrank among the positives (``rank() over (partition by group)``
averaged over ties). ``tests/metrics/test_roc.py`` checks this formula against :func:`roc_auc`.
Removing one case changes the AUC in closed form from the same values (see ``_mrmc.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from metrics._lazy import lazy_function, lazy_module
from metrics._types import ZERO_SE, Estimate, TestResult, nan_estimate
from radqa.errors import InputError, InsufficientDataError

if TYPE_CHECKING:
    from scipy import stats
    from scipy.stats import rankdata
else:
    stats = lazy_module("scipy.stats")
    rankdata = lazy_function("scipy.stats", "rankdata")

DELONG = "DeLong (1988)"


@dataclass(frozen=True)
class Placements:
    """Placement values of one score against one truth (DeLong 1988; Sun & Xu 2014).

    Attributes
    ----------
    v10 : ndarray
        One value per positive: share of negatives scored below it (ties count 1/2).
    v01 : ndarray
        One value per negative: share of positives scored above it (ties count 1/2).
    """

    v10: np.ndarray
    v01: np.ndarray

    @property
    def auc(self) -> float:
        """Empirical AUC (Mann-Whitney), the mean of ``v10``."""
        return float(np.mean(self.v10))


def _binary_truth(y_true: object, name: str = "y_true") -> np.ndarray:
    """Truth as a boolean array; InputError unless every value is 0/1 or True/False."""
    arr = np.asarray(y_true)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional; found shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} is empty; expected at least one positive and one negative case")
    if arr.dtype == bool:
        return np.asarray(arr, dtype=bool)
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        found = sorted({str(v) for v in arr.tolist()})[:5]
        raise InputError(
            f"{name} must hold 0/1 or True/False; found values such as {found}"
        ) from None
    bad = ~np.isin(num, (0.0, 1.0))
    if bad.any():
        found = sorted(set(num[bad].tolist()), key=str)[:5]
        raise InputError(
            f"{name} must hold 0/1 or True/False; found {int(bad.sum())} other value(s), "
            f"such as {found}"
        )
    return np.asarray(num == 1.0, dtype=bool)


def _split(y_true: object, y_score: object, name: str = "y_score") -> tuple[np.ndarray, np.ndarray]:
    """Validated (positive scores, negative scores)."""
    truth = _binary_truth(y_true)
    try:
        score = np.asarray(y_score, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers; found a value that is not") from None
    if score.ndim != 1:
        raise InputError(f"{name} must be one-dimensional; found shape {score.shape}")
    if score.size != truth.size:
        raise InputError(
            f"y_true and {name} must have the same length; found {truth.size} and {score.size}"
        )
    nan = np.isnan(score)
    if nan.any():
        raise InputError(
            f"{name} has {int(nan.sum())} missing (NaN) value(s), first at position "
            f"{int(np.flatnonzero(nan)[0])}; expected a score for every case"
        )
    n_pos = int(truth.sum())
    if n_pos == 0 or n_pos == truth.size:
        cls = "positive (1)" if n_pos else "negative (0)"
        raise InsufficientDataError(
            f"y_true has a single class: all {truth.size} cases are {cls}; "
            "the AUC needs at least one positive and one negative case"
        )
    return score[truth], score[~truth]


def placements(positives: np.ndarray, negatives: np.ndarray) -> Placements:
    """Placement values from midranks (Sun & Xu 2014), O((m + n) log(m + n))."""
    m, n = positives.size, negatives.size
    combined = rankdata(np.concatenate([positives, negatives]))
    below_pos = combined[:m] - rankdata(positives)  # negatives below + 0.5 tied
    below_neg = combined[m:] - rankdata(negatives)  # positives below + 0.5 tied
    return Placements(v10=below_pos / n, v01=1.0 - below_neg / m)


def _delong_cov(pa: Placements, pb: Placements) -> float:
    """DeLong covariance of two AUCs on the same cases (variance when pa is pb)."""
    m, n = pa.v10.size, pa.v01.size
    s10 = np.cov(pa.v10, pb.v10, ddof=1)[0, 1] if m > 1 else 0.0
    s01 = np.cov(pa.v01, pb.v01, ddof=1)[0, 1] if n > 1 else 0.0
    return float(s10 / m + s01 / n)


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be between 0 and 1 (exclusive); found {alpha}")
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def roc_auc(y_true: object, y_score: object, *, alpha: float = 0.05) -> Estimate:
    """Empirical ROC AUC with a DeLong confidence interval.

    Parameters
    ----------
    y_true : array-like of 0/1 or bool
        Reference standard; 1 = positive (case).
    y_score : array-like of float
        Model score, higher = more likely positive.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Estimate
        AUC (ties count 1/2), ``se = sqrt(var)`` with DeLong's variance, and the Wald interval
        ``AUC +/- z * se`` clipped to [0, 1]. Where DeLong's variance is 0 (the scores
        separate the classes completely, or all are tied) the AUC is not estimable: NaN with
        the reason in ``note``, never a zero-width interval.

    Notes
    -----
    DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837-845; fast algorithm of
    Sun & Xu (2014), IEEE Signal Processing Letters 21:1389-1393.

    Examples
    --------
    >>> est = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(est.value, 4)
    0.75
    """
    z = _z(alpha)
    pos, neg = _split(y_true, y_score)
    pl = placements(pos, neg)
    auc = pl.auc
    var = _delong_cov(pl, pl)
    if var <= ZERO_SE**2:  # complete separation or all scores tied: a zero-width interval
        return nan_estimate(
            DELONG,
            f"not estimable: DeLong's variance is 0 (AUC {auc:.3g} from {pos.size} positive and "
            f"{neg.size} negative cases, every placement value equal), so no interval can be "
            "given",
        )
    se = math.sqrt(var)
    return Estimate(auc, max(0.0, auc - z * se), min(1.0, auc + z * se), se, DELONG)


def compare_aucs(
    y_true: object,
    score_a: object,
    score_b: object,
    *,
    paired: bool = True,
    y_true_b: object = None,
    alpha: float = 0.05,
) -> TestResult:
    """DeLong test of AUC(a) - AUC(b).

    Parameters
    ----------
    y_true : array-like of 0/1 or bool
        Truth for ``score_a`` (and for ``score_b`` when paired).
    score_a, score_b : array-like of float
        The two scores. Paired: the same cases, in the same order.
    paired : bool
        True: both scores on the same cases (correlated AUCs, DeLong 1988).
        False: independent samples; ``score_b`` has its own truth ``y_true_b``.
    y_true_b : array-like, optional
        Truth for ``score_b`` when ``paired=False`` (default: ``y_true``).
    alpha : float
        1 - confidence level of the interval for the difference.

    Returns
    -------
    TestResult
        ``statistic`` = Z, two-sided normal ``p_value``, ``df=None``, and ``estimate`` =
        AUC(a) - AUC(b) with its Wald interval.

    Notes
    -----
    Paired: ``Z = (A1 - A2) / sqrt(V1 + V2 - 2 C)`` with DeLong's covariance (DeLong et al.
    1988). Unpaired: ``Z = (A1 - A2) / sqrt(V1 + V2)``, the form pROC's ``roc.test`` uses.
    """
    z_crit = _z(alpha)
    if paired:
        if y_true_b is not None:
            raise InputError(
                "y_true_b was given with paired=True; a paired comparison uses one truth for "
                "both scores (pass paired=False for two independent samples)"
            )
        pos_a, neg_a = _split(y_true, score_a, "score_a")
        pos_b, neg_b = _split(y_true, score_b, "score_b")
        pa, pb = placements(pos_a, neg_a), placements(pos_b, neg_b)
        var = _delong_cov(pa, pa) + _delong_cov(pb, pb) - 2.0 * _delong_cov(pa, pb)
        method = "DeLong (1988) paired test"
    else:
        pa = placements(*_split(y_true, score_a, "score_a"))
        truth_b = y_true if y_true_b is None else y_true_b
        pb = placements(*_split(truth_b, score_b, "score_b"))
        var = _delong_cov(pa, pa) + _delong_cov(pb, pb)
        method = "DeLong (1988) unpaired test"
    diff = pa.auc - pb.auc
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:
        nan = float("nan")
        est = Estimate(diff, nan, nan, 0.0, DELONG, "the difference has zero variance")
        return TestResult(nan, nan, None, est, method)
    stat = diff / se
    p = float(2.0 * stats.norm.sf(abs(stat)))
    low, high = max(-1.0, diff - z_crit * se), min(1.0, diff + z_crit * se)
    return TestResult(stat, p, None, Estimate(diff, low, high, se, DELONG), method)
