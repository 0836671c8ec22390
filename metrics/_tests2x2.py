"""McNemar's test for a paired 2x2 table."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from metrics._lazy import lazy_function
from metrics._proportions import check_alpha, check_table_2x2, paired_difference_ci
from metrics._types import TestResult

if TYPE_CHECKING:
    from statsmodels.stats.contingency_tables import mcnemar as _sm_mcnemar
else:
    _sm_mcnemar = lazy_function("statsmodels.stats.contingency_tables", "mcnemar")


def mcnemar(
    table: Any, *, correction: bool = False, exact: bool = False, alpha: float = 0.05
) -> TestResult:
    """McNemar (1947) test of marginal homogeneity in a paired 2x2 table.

    Parameters
    ----------
    table : 2x2 array-like of counts
        ``[[a, b], [c, d]]``: rows the first measurement (positive, negative), columns the
        second. Only the discordant cells ``b`` and ``c`` enter the test.
    correction : bool
        Edwards' (1948) continuity correction, ``(|b - c| - 1)^2 / (b + c)``. R's
        ``mcnemar.test`` applies it by default; here the default is without it.
    exact : bool
        The exact conditional test: ``b`` is binomial(b + c, 1/2), two-sided p-value
        (statsmodels); ``statistic`` is then ``min(b, c)`` and ``df`` is ``None``.
    alpha : float
        For the interval of the estimate.

    Returns
    -------
    TestResult
        Chi-square statistic with ``df=1`` (or the exact binomial test), and as ``estimate`` the
        paired difference of proportions ``(b - c)/n`` with its Newcombe (1998) interval.
        With no discordant pairs the chi-square statistic and p-value are NaN (the method says
        why); the exact p-value is then 1.

    Examples
    --------
    >>> r = mcnemar([[794, 150], [86, 570]])  # Agresti: presidential approval
    >>> round(r.statistic, 4), f"{r.p_value:.3e}", r.df
    (17.3559, '3.099e-05', 1)
    """
    alpha = check_alpha(alpha)
    t = check_table_2x2(table)
    b, c = int(t[0, 1]), int(t[1, 0])
    estimate = paired_difference_ci(t, method="newcombe", alpha=alpha)
    if exact:
        method = "McNemar exact (binomial, two-sided)"
        if b + c == 0:
            return TestResult(0.0, 1.0, None, estimate, method)
        res = _sm_mcnemar(t, exact=True)
        return TestResult(float(res.statistic), float(res.pvalue), None, estimate, method)
    method = "McNemar chi-square" + (" with continuity correction" if correction else "")
    if b + c == 0:
        nan = math.nan
        return TestResult(nan, nan, 1, estimate, method + " (undefined: no discordant pairs)")
    res = _sm_mcnemar(t, exact=False, correction=correction)
    return TestResult(float(res.statistic), float(res.pvalue), 1, estimate, method)
