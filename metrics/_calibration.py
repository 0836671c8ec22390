"""Calibration of predicted probabilities: Brier score, reliability curve, ECE, slope, intercept."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metrics._proportions import check_alpha
from metrics._types import Estimate, nan_estimate
from radqa.errors import InputError

#: Scores of exactly 0 or 1 are clipped to [EPS, 1 - EPS] before taking the logit.
EPS = 1e-8


@dataclass(frozen=True, eq=False)
class Calibration:
    """Calibration summary of one set of predictions.

    Attributes
    ----------
    n : int
        Number of cases.
    brier : float
        Brier (1950) score, the mean squared error of the probabilities (scikit-learn).
    ece : float
        Expected calibration error: the count-weighted mean of
        ``|fraction positive - mean predicted|`` over equal-width bins (Naeini et al. 2015).
    bins : int
        Number of equal-width bins on [0, 1].
    curve : pandas.DataFrame
        Reliability curve, one row per non-empty bin (as scikit-learn ``calibration_curve``):
        ``bin`` (0-based), ``mean_predicted``, ``fraction_positive``, ``count``.
    slope : Estimate
        Calibration slope: coefficient of ``logit(score)`` in a logistic regression of the
        outcome on ``logit(score)`` (Cox 1958; Van Calster et al. 2016). 1 is ideal.
    intercept : Estimate
        Calibration intercept (calibration-in-the-large): the intercept of that regression
        with the slope fixed at 1, i.e. ``logit(score)`` as an offset. 0 is ideal.
    """

    n: int
    brier: float
    ece: float
    bins: int
    curve: pd.DataFrame
    slope: Estimate
    intercept: Estimate


def _check_inputs(
    y_true: Any, y_score: Any, bins: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]:
    yt = np.asarray(y_true).ravel()
    ys = np.asarray(y_score, dtype=float).ravel()
    if yt.size == 0:
        raise InputError("y_true is empty; expected at least one case of each class")
    if yt.size != ys.size:
        raise InputError(f"y_true has {yt.size} values but y_score has {ys.size}; expected equal")
    labels = set(pd.unique(yt).tolist())
    if not labels <= {0, 1}:
        found = sorted(map(str, labels - {0, 1}))[:5]
        raise InputError(f"y_true has values {', '.join(found)}; expected only 0 and 1")
    yt = yt.astype(np.int64)
    if len(labels) < 2:
        raise InputError(
            f"y_true has only class {yt[0]}; expected both 0 and 1 to assess calibration"
        )
    bad = ~np.isfinite(ys) | (ys < 0) | (ys > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"y_score[{i}] is {float(ys[i])!r}; expected a probability in [0, 1]")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise InputError(f"bins is {bins!r}; expected a whole number >= 1")
    return yt, ys, int(bins)


def _glm_estimate(fit: Any, alpha: float, label: str, note: str | None) -> Estimate:
    low, high = np.asarray(fit.conf_int(alpha=alpha))[-1]
    return Estimate(float(fit.params[-1]), float(low), float(high), float(fit.bse[-1]), label, note)


def calibration(
    y_true: npt.ArrayLike, y_score: npt.ArrayLike, *, bins: int = 10, alpha: float = 0.05
) -> Calibration:
    """Brier score, reliability curve, ECE and logistic calibration slope and intercept.

    Parameters
    ----------
    y_true : array-like of 0/1
        Reference outcome; both classes must occur.
    y_score : array-like of float in [0, 1]
        Predicted probability of class 1.
    bins : int
        Equal-width bins for the reliability curve and the ECE.
    alpha : float
        For the Wald intervals of slope and intercept (statsmodels GLM, binomial family).

    Notes
    -----
    Slope and intercept follow Van Calster et al. (2016, J Clin Epidemiol 74:167): the slope
    from ``logit P(y=1) = a + b logit(score)``; the intercept is calibration-in-the-large,
    ``a`` refitted with ``b`` fixed at 1 (``logit(score)`` as offset), not the joint ``a``.
    Scores of exactly 0 or 1 are clipped to ``[1e-8, 1 - 1e-8]`` for the logit (noted).

    Examples
    --------
    >>> c = calibration([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], bins=2)
    >>> round(c.brier, 4), c.curve["count"].tolist()
    (0.1581, [3, 1])
    """
    import statsmodels.api as sm  # here, not at import: the dashboard starts faster
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    alpha = check_alpha(alpha)
    yt, ys, nbins = _check_inputs(y_true, y_score, bins)
    n = yt.size

    edges = np.linspace(0.0, 1.0, nbins + 1)
    ids = np.searchsorted(edges[1:-1], ys)  # the binning of sklearn calibration_curve
    count = np.bincount(ids, minlength=nbins)
    keep = count > 0
    frac_pos, mean_pred = calibration_curve(yt, ys, n_bins=nbins, strategy="uniform")
    curve = pd.DataFrame(
        {
            "bin": np.flatnonzero(keep),
            "mean_predicted": mean_pred,
            "fraction_positive": frac_pos,
            "count": count[keep],
        }
    )
    ece = float(np.sum(count[keep] / n * np.abs(frac_pos - mean_pred)))

    clipped = int(((ys < EPS) | (ys > 1 - EPS)).sum())
    note = (
        f"{clipped} scores of 0 or 1 clipped to [1e-8, 1 - 1e-8] for the logit" if clipped else None
    )
    lp = np.log(np.clip(ys, EPS, 1 - EPS) / (1 - np.clip(ys, EPS, 1 - EPS)))
    slope_label = "logistic recalibration slope (Cox 1958), Wald CI"
    citl_label = "calibration-in-the-large, slope fixed at 1 (Van Calster 2016), Wald CI"
    family = sm.families.Binomial()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            slope_fit = sm.GLM(yt, sm.add_constant(lp, has_constant="add"), family=family).fit()
            slope = _glm_estimate(slope_fit, alpha, slope_label, note)
    except Exception as exc:  # separation / non-convergence: say so, do not crash a page
        slope = nan_estimate(slope_label, f"logistic fit failed ({type(exc).__name__}: {exc})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            citl_fit = sm.GLM(yt, np.ones((n, 1)), family=family, offset=lp).fit()
            intercept = _glm_estimate(citl_fit, alpha, citl_label, note)
    except Exception as exc:
        intercept = nan_estimate(citl_label, f"logistic fit failed ({type(exc).__name__}: {exc})")

    brier = float(brier_score_loss(yt, ys))
    return Calibration(n, brier, ece, nbins, curve, slope, intercept)
