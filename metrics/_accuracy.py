"""Diagnostic accuracy of a binary test against a reference standard, from the 2x2 counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metrics._lazy import lazy_function
from metrics._proportions import (
    _SINGLE,
    check_alpha,
    check_count,
    method_key,
    proportion_ci,
    risk_ratio_ci,
)
from metrics._types import Estimate, nan_estimate

if TYPE_CHECKING:
    from statsmodels.stats.proportion import proportion_confint
else:
    proportion_confint = lazy_function("statsmodels.stats.proportion", "proportion_confint")


@dataclass(frozen=True)
class DiagnosticAccuracy:
    """Accuracy measures of one 2x2 table, each an :class:`Estimate` with its interval."""

    tp: int
    fp: int
    fn: int
    tn: int
    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    accuracy: Estimate
    balanced_accuracy: Estimate
    prevalence: Estimate
    lr_positive: Estimate
    lr_negative: Estimate
    f1: Estimate

    @property
    def n(self) -> int:
        """Number of cases in the table."""
        return self.tp + self.fp + self.fn + self.tn


def _prop(count: int, nobs: int, method: str, alpha: float, undefined: str) -> Estimate:
    if nobs == 0:
        return nan_estimate(_SINGLE[method][1], undefined)
    return proportion_ci(count, nobs, method=method, alpha=alpha)


def _balanced(sens: Estimate, spec: Estimate) -> Estimate:
    """MOVER (Zou & Donner 2008) for the mean of two independent proportions."""
    label = f"MOVER (Zou & Donner 2008) on {sens.method} limits"
    if not (sens.defined and spec.defined):
        return nan_estimate(label, "sensitivity or specificity undefined")
    value = (sens.value + spec.value) / 2
    low = value - 0.5 * math.hypot(sens.value - sens.low, spec.value - spec.low)
    high = value + 0.5 * math.hypot(sens.high - sens.value, spec.high - spec.value)
    se = 0.5 * math.hypot(sens.se or 0.0, spec.se or 0.0)
    return Estimate(value, low, high, se, label)


def _f1(tp: int, fp: int, fn: int, method: str, alpha: float) -> Estimate:
    """F1 through the Jaccard index J = TP / (TP + FP + FN), F1 = 2J / (1 + J).

    Given m = TP + FP + FN, TP is binomial(m, J), so an interval for J maps to one for F1 by the
    monotone transform; 2TP / (2TP + FP + FN) itself is not a binomial proportion.
    """
    label = f"{_SINGLE[method][1]} on Jaccard TP/(TP+FP+FN), mapped to 2J/(1+J)"
    m = tp + fp + fn
    if m == 0:
        return nan_estimate(label, "no positives in the reference or the test: F1 undefined")
    j_low, j_high = (
        float(x) for x in proportion_confint(tp, m, alpha=alpha, method=_SINGLE[method][0])
    )
    j = tp / m
    se = 2 / (1 + j) ** 2 * math.sqrt(j * (1 - j) / m)
    return Estimate(2 * j / (1 + j), 2 * j_low / (1 + j_low), 2 * j_high / (1 + j_high), se, label)


def _lr(hit: int, pos_n: int, false: int, neg_n: int, alpha: float, name: str) -> Estimate:
    label = "log method (Simel, Samsa & Matchar 1991)"
    if pos_n == 0 or neg_n == 0:
        which = "positives" if pos_n == 0 else "negatives"
        return nan_estimate(label, f"no reference {which}: {name} undefined")
    e = risk_ratio_ci(hit, pos_n, false, neg_n, alpha=alpha)
    return Estimate(e.value, e.low, e.high, None, label, e.note)


def diagnostic_accuracy(
    tp: int, fp: int, fn: int, tn: int, *, method: str = "wilson", alpha: float = 0.05
) -> DiagnosticAccuracy:
    """Sensitivity, specificity, predictive values and related measures with intervals.

    Parameters
    ----------
    tp, fp, fn, tn : int
        The 2x2 counts (test result by reference standard).
    method : str
        Interval for the proportions (see :func:`proportion_ci`): sensitivity, specificity,
        PPV, NPV, accuracy, prevalence.
    alpha : float
        1 - confidence level.

    Notes
    -----
    - Balanced accuracy: MOVER (Zou & Donner 2008), combining the two independent proportions'
      limits by square-and-add, halved; ``se`` is the Wald ``0.5 sqrt(se_sens^2 + se_spec^2)``.
    - F1: the interval for the Jaccard index ``J = TP/(TP+FP+FN)`` (binomial given TP+FP+FN)
      mapped through ``F1 = 2J/(1+J)``; ``se`` by the delta method.
    - Likelihood ratios: log method (Simel, Samsa & Matchar 1991); a zero cell in the ratio
      gets 0.5 added to all four cells, said in the note (see :func:`risk_ratio_ci`).
    - A measure whose denominator is 0 is NaN with a note saying why; nothing raises for zeros.

    Examples
    --------
    >>> r = diagnostic_accuracy(231, 32, 27, 54)  # Altman 1991, liver scan
    >>> [round(e.value, 2) for e in (r.sensitivity, r.specificity, r.ppv, r.npv)]
    [0.9, 0.63, 0.88, 0.67]
    """
    key = method_key(method, _SINGLE, "proportion CI")
    alpha = check_alpha(alpha)
    tp, fp, fn, tn = (
        check_count(v, k) for v, k in ((tp, "tp"), (fp, "fp"), (fn, "fn"), (tn, "tn"))
    )
    pos, neg, n = tp + fn, fp + tn, tp + fp + fn + tn
    sens = _prop(tp, pos, key, alpha, "no reference positives (TP + FN = 0): sensitivity undefined")
    spec = _prop(tn, neg, key, alpha, "no reference negatives (FP + TN = 0): specificity undefined")
    return DiagnosticAccuracy(
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        sensitivity=sens,
        specificity=spec,
        ppv=_prop(tp, tp + fp, key, alpha, "no test positives (TP + FP = 0): PPV undefined"),
        npv=_prop(tn, tn + fn, key, alpha, "no test negatives (TN + FN = 0): NPV undefined"),
        accuracy=_prop(tp + tn, n, key, alpha, "no cases: accuracy undefined"),
        balanced_accuracy=_balanced(sens, spec),
        prevalence=_prop(pos, n, key, alpha, "no cases: prevalence undefined"),
        lr_positive=_lr(tp, pos, fp, neg, alpha, "LR+"),
        lr_negative=_lr(fn, pos, tn, neg, alpha, "LR-"),
        f1=_f1(tp, fp, fn, key, alpha),
    )
