"""Confidence intervals for proportions and for comparisons of two proportions.

Single proportions and independent differences / ratios come from statsmodels
(``proportion_confint``, ``confint_proportions_2indep``); the paired-difference intervals
(Newcombe 1998 method 10, Tango 1998), which statsmodels does not offer, are written here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from metrics._lazy import lazy_function, lazy_module
from metrics._types import Estimate, nan_estimate
from radqa.errors import InputError

if TYPE_CHECKING:
    from scipy import optimize, stats
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
else:
    optimize = lazy_module("scipy.optimize")
    stats = lazy_module("scipy.stats")
    confint_proportions_2indep = lazy_function(
        "statsmodels.stats.proportion", "confint_proportions_2indep"
    )
    proportion_confint = lazy_function("statsmodels.stats.proportion", "proportion_confint")

FloatArray = npt.NDArray[np.float64]

# key -> (statsmodels method name, name shown to readers)
_SINGLE: Mapping[str, tuple[str, str]] = {
    "wilson": ("wilson", "Wilson score"),
    "clopper-pearson": ("beta", "Clopper-Pearson exact"),
    "exact": ("beta", "Clopper-Pearson exact"),
    "agresti-coull": ("agresti_coull", "Agresti-Coull"),
    "jeffreys": ("jeffreys", "Jeffreys"),
    "wald": ("normal", "Wald"),
}
_DIFF: Mapping[str, tuple[str, str]] = {
    "newcombe": ("newcomb", "Newcombe hybrid score (1998, method 10)"),
    "wald": ("wald", "Wald"),
    "agresti-caffo": ("agresti-caffo", "Agresti-Caffo (2000)"),
}
_PAIRED = {
    "newcombe": "Newcombe square-and-add, paired (1998, method 10)",
    "tango": "Tango score, paired (1998)",
}


# ---------------------------------------------------------------- input checks (shared)
def check_alpha(alpha: float) -> float:
    """Return ``alpha`` as a float, or raise if it is not strictly between 0 and 1."""
    a = float(alpha)
    if not 0.0 < a < 1.0:
        raise InputError(f"alpha is {alpha!r}; expected a number strictly between 0 and 1")
    return a


def check_count(value: Any, name: str) -> int:
    """Return a count as an int, or raise if it is negative, fractional or not a number."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} is {value!r}; expected a non-negative whole number") from None
    if not math.isfinite(f) or f < 0 or f != math.floor(f):
        raise InputError(f"{name} is {value!r}; expected a non-negative whole number")
    return int(f)


def check_count_nobs(count: Any, nobs: Any, prefix: str = "") -> tuple[int, int]:
    """Validate a (count, nobs) pair: both whole numbers >= 0 and count <= nobs."""
    c = check_count(count, f"{prefix}count")
    n = check_count(nobs, f"{prefix}nobs")
    if c > n:
        raise InputError(f"{prefix}count is {c} but {prefix}nobs is {n}; expected count <= nobs")
    return c, n


def check_table_2x2(table: Any) -> npt.NDArray[np.int64]:
    """Return a paired 2x2 table of counts as an int array, or raise saying what was found."""
    arr = np.asarray(table.to_numpy() if hasattr(table, "to_numpy") else table, dtype=object)
    if arr.shape != (2, 2):
        raise InputError(f"table has shape {arr.shape}; expected a 2x2 table of counts")
    cells = [check_count(arr[i, j], f"table[{i}][{j}]") for i in range(2) for j in range(2)]
    return np.array(cells, dtype=np.int64).reshape(2, 2)


def method_key(method: str, valid: Mapping[str, Any], what: str) -> str:
    """Normalise a method key, or raise listing the valid keys."""
    key = str(method).strip().lower().replace("_", "-")
    if key not in valid:
        raise InputError(
            f"unknown {what} method {method!r}; expected one of {', '.join(sorted(valid))}"
        )
    return key


def z_crit(alpha: float) -> float:
    """The two-sided standard normal critical value z(1 - alpha/2)."""
    return float(stats.norm.isf(alpha / 2))


# ---------------------------------------------------------------- single proportion
def proportion_ci(
    count: int, nobs: int, *, method: str = "wilson", alpha: float = 0.05
) -> Estimate:
    """Confidence interval for a binomial proportion ``count / nobs``.

    Parameters
    ----------
    count, nobs : int
        Successes and trials (whole numbers, ``0 <= count <= nobs``).
    method : {"wilson", "clopper-pearson", "exact", "agresti-coull", "jeffreys", "wald"}
        Wilson (1927) score, Clopper & Pearson (1934) exact, Agresti & Coull (1998),
        Jeffreys (Brown, Cai & DasGupta 2001, with their boundary modification: lower limit 0
        at ``count == 0``, upper limit 1 at ``count == nobs``) or Wald; computed by
        statsmodels ``proportion_confint``.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Estimate
        ``se`` is the Wald standard error ``sqrt(p (1 - p) / n)``. ``nobs == 0`` gives a NaN
        estimate with a note rather than an error.

    Examples
    --------
    >>> e = proportion_ci(231, 258)
    >>> round(e.value, 4), round(e.low, 7), round(e.high, 7), e.method
    (0.8953, 0.8520214, 0.927076, 'Wilson score')
    """
    key = method_key(method, _SINGLE, "proportion CI")
    sm_method, label = _SINGLE[key]
    alpha = check_alpha(alpha)
    c, n = check_count_nobs(count, nobs)
    if n == 0:
        return nan_estimate(label, "nobs is 0: proportion undefined")
    low, high = proportion_confint(c, n, alpha=alpha, method=sm_method)
    if key == "jeffreys":  # Brown, Cai & DasGupta (2001): the limit is 0 at x = 0, 1 at x = n
        low, high = (0.0 if c == 0 else low), (1.0 if c == n else high)
    p = c / n
    return Estimate(p, float(low), float(high), math.sqrt(p * (1 - p) / n), label)


def proportion_ci_arrays(
    count: npt.ArrayLike,
    nobs: npt.ArrayLike,
    *,
    method: str = "wilson",
    alpha: float = 0.05,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vectorised :func:`proportion_ci`: ``(value, low, high)`` arrays for many groups at once.

    ``count`` and ``nobs`` broadcast against each other. Groups with ``nobs == 0`` get NaN.
    No Python loop runs over the groups (statsmodels ``proportion_confint`` takes arrays).

    Examples
    --------
    >>> v, lo, hi = proportion_ci_arrays([231, 0], [258, 0])
    >>> [round(float(x), 4) for x in v[:1]], bool(np.isnan(v[1]))
    ([0.8953], True)
    """
    key = method_key(method, _SINGLE, "proportion CI")
    alpha = check_alpha(alpha)
    c, n = np.broadcast_arrays(np.asarray(count, dtype=float), np.asarray(nobs, dtype=float))
    for arr, name in ((c, "count"), (n, "nobs")):
        bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.floor(arr))
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise InputError(
                f"{name}[{i}] is {float(arr.ravel()[i])!r}; expected a non-negative whole number"
            )
    over = c > n
    if over.any():
        i = int(np.flatnonzero(over.ravel())[0])
        raise InputError(
            f"count[{i}] is {c.ravel()[i]:g} but nobs[{i}] is {n.ravel()[i]:g}; "
            "expected count <= nobs"
        )
    empty = n == 0
    safe_n = np.where(empty, 1.0, n)
    low, high = proportion_confint(c, safe_n, alpha=alpha, method=_SINGLE[key][0])
    if key == "jeffreys":  # Brown, Cai & DasGupta (2001) boundary modification
        low, high = np.where(c == 0, 0.0, low), np.where(c == n, 1.0, high)
    value = c / safe_n
    nan = np.nan
    return (
        np.where(empty, nan, value).astype(float),
        np.where(empty, nan, np.asarray(low, dtype=float)).astype(float),
        np.where(empty, nan, np.asarray(high, dtype=float)).astype(float),
    )


# ---------------------------------------------------------------- two independent proportions
def difference_ci(
    count1: int,
    nobs1: int,
    count2: int,
    nobs2: int,
    *,
    method: str = "newcombe",
    alpha: float = 0.05,
) -> Estimate:
    """Confidence interval for ``count1/nobs1 - count2/nobs2`` (independent groups).

    Parameters
    ----------
    method : {"newcombe", "wald", "agresti-caffo"}
        Newcombe (1998) hybrid score (method 10), Wald, or Agresti & Caffo (2000); computed
        by statsmodels ``confint_proportions_2indep``. Fagerland, Lydersen & Laake (2015)
        recommend Newcombe or Agresti-Caffo.

    Returns
    -------
    Estimate
        ``se`` is the unpooled Wald standard error.

    Examples
    --------
    >>> e = difference_ci(7, 34, 1, 34)
    >>> round(e.value, 4), round(e.low, 3), round(e.high, 2)
    (0.1765, 0.019, 0.34)
    """
    key = method_key(method, _DIFF, "difference CI")
    sm_method, label = _DIFF[key]
    alpha = check_alpha(alpha)
    c1, n1 = check_count_nobs(count1, nobs1, "group 1 ")
    c2, n2 = check_count_nobs(count2, nobs2, "group 2 ")
    if n1 == 0 or n2 == 0:
        return nan_estimate(label, "a group has nobs 0: difference undefined")
    p1, p2 = c1 / n1, c2 / n2
    low, high = confint_proportions_2indep(
        c1, n1, c2, n2, method=sm_method, compare="diff", alpha=alpha
    )
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return Estimate(p1 - p2, float(low), float(high), se, label)


def risk_ratio_ci(
    count1: int, nobs1: int, count2: int, nobs2: int, *, alpha: float = 0.05
) -> Estimate:
    """Confidence interval for the ratio ``(count1/nobs1) / (count2/nobs2)``, log method.

    Katz et al. (1978) log method, as statsmodels ``confint_proportions_2indep(compare="ratio",
    method="log")``: ``se(log RR) = sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)``. The same formula gives the
    likelihood-ratio intervals of Simel, Samsa & Matchar (1991).

    Zero counts: when exactly one group has no events, 0.5 is added to every cell of both groups
    (``x + 0.5`` of ``n + 1``) and the note says so; with no events in either group the ratio
    is undefined (NaN with a note). ``se`` is ``None`` (the interval is not symmetric).

    Examples
    --------
    >>> e = risk_ratio_ci(7, 34, 1, 34)
    >>> round(e.value, 3), round(e.low, 4), round(e.high, 2)
    (7.0, 0.9096, 53.87)
    """
    label = "Katz log method (1978)"
    alpha = check_alpha(alpha)
    c1, n1 = check_count_nobs(count1, nobs1, "group 1 ")
    c2, n2 = check_count_nobs(count2, nobs2, "group 2 ")
    if n1 == 0 or n2 == 0:
        return nan_estimate(label, "a group has nobs 0: ratio undefined")
    if c1 == 0 and c2 == 0:
        return nan_estimate(label, "no events in either group: ratio undefined")
    note = None
    x1, m1, x2, m2 = float(c1), float(n1), float(c2), float(n2)
    if c1 == 0 or c2 == 0:
        x1, m1, x2, m2 = x1 + 0.5, m1 + 1, x2 + 0.5, m2 + 1
        note = "a group has no events: 0.5 added to all four cells (events and non-events)"
    ratio = (x1 / m1) / (x2 / m2)
    if x1 == m1 and x2 == m2:
        return Estimate(ratio, ratio, ratio, None, label, "every case an event: interval is 1")
    low, high = confint_proportions_2indep(
        x1, m1, x2, m2, method="log", compare="ratio", alpha=alpha
    )
    return Estimate(ratio, float(low), float(high), None, label, note)


# ---------------------------------------------------------------- paired proportions
def paired_difference_ci(table: Any, *, method: str = "newcombe", alpha: float = 0.05) -> Estimate:
    """Confidence interval for the difference of two paired proportions.

    ``table`` is ``[[a, b], [c, d]]``: rows are the first measurement (positive, negative),
    columns the second. The difference is ``p1 - p2 = (a+b)/n - (a+c)/n = (b - c)/n``;
    transposing the table negates the estimate and mirrors the interval.

    Parameters
    ----------
    method : {"newcombe", "tango"}
        ``"newcombe"``: Newcombe (1998, Stat Med 17:2635) method 10, Wilson limits of both
        margins combined with the continuity-corrected phi coefficient.
        ``"tango"``: Tango (1998, Stat Med 17:891) score interval, the roots of
        ``T(delta) = +-z`` with the constrained maximum likelihood estimate of the ``c`` cell.

    Returns
    -------
    Estimate
        ``se`` is the Wald standard error ``sqrt(b + c - (b - c)^2 / n) / n``.

    Examples
    --------
    >>> e = paired_difference_ci([[59, 6], [16, 80]])  # Cavo et al. 2012 (Fagerland 2017)
    >>> round(e.value, 4), round(e.low, 4), round(e.high, 4)
    (-0.0621, -0.1186, -0.0046)
    """
    key = method_key(method, _PAIRED, "paired difference CI")
    label = _PAIRED[key]
    alpha = check_alpha(alpha)
    t = check_table_2x2(table)
    a, b, c, d = (int(x) for x in t.ravel())
    n = a + b + c + d
    if n == 0:
        return nan_estimate(label, "table is empty (n = 0): difference undefined")
    est = (b - c) / n
    se = math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n
    z = z_crit(alpha)
    if key == "newcombe":
        low, high = _newcombe_paired(a, b, c, d, alpha)
    else:
        low, high = _tango(b, c, n, z)
    return Estimate(est, low, high, se, label)


def _newcombe_paired(a: int, b: int, c: int, d: int, alpha: float) -> tuple[float, float]:
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = (float(x) for x in proportion_confint(a + b, n, alpha=alpha, method="wilson"))
    l2, u2 = (float(x) for x in proportion_confint(a + c, n, alpha=alpha, method="wilson"))
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if margins > 0:
        cross = a * d - b * c
        if cross > n / 2:
            phi = (cross - n / 2) / math.sqrt(margins)
        elif cross < 0:
            phi = cross / math.sqrt(margins)
    dl1, du1, dl2, du2 = p1 - l1, u1 - p1, p2 - l2, u2 - p2
    low = (p1 - p2) - math.sqrt(max(dl1**2 - 2 * phi * dl1 * du2 + du2**2, 0.0))
    high = (p1 - p2) + math.sqrt(max(du1**2 - 2 * phi * du1 * dl2 + dl2**2, 0.0))
    return max(low, -1.0), min(high, 1.0)


def _tango_stat(delta: float, b: int, c: int, n: int) -> float:
    """Tango's score statistic for H0: p1 - p2 = delta."""
    bb = -b - c + (2 * n - b + c) * delta
    cc = -c * delta * (1 - delta)
    p21 = (math.sqrt(max(bb * bb - 8 * n * cc, 0.0)) - bb) / (4 * n)
    var = n * (2 * p21 + delta * (1 - delta))
    num = b - c - n * delta
    if var <= 0:
        return 0.0 if num == 0 else math.copysign(math.inf, num)
    return num / math.sqrt(var)


def _tango(b: int, c: int, n: int, z: float) -> tuple[float, float]:
    est = (b - c) / n
    eps = 1e-12
    low = -1.0
    if est > -1 + eps:
        low = optimize.brentq(lambda x: _tango_stat(x, b, c, n) - z, -1 + eps, est, xtol=1e-12)
    high = 1.0
    if est < 1 - eps:
        high = optimize.brentq(lambda x: _tango_stat(x, b, c, n) + z, est, 1 - eps, xtol=1e-12)
    return float(low), float(high)
