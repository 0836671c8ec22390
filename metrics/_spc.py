"""Statistical process control over monthly proportions: p-chart, tabular CUSUM, EWMA.

All three follow Montgomery, *Introduction to Statistical Quality Control* (7th ed., 2013):
the p-chart (section 7.2.1) with 3-sigma limits from the reference proportion and each month's
own n; the tabular CUSUM (section 9.1.2) and the EWMA chart (section 9.2.1) run on the
standardized monthly deviations ``z_t = (p_t - p0) / sqrt(p0 (1 - p0) / n_t)``, which are
N(0, 1) while the process is in control, so one set of constants serves every site size.

Arrays are vectorised over groups: time is the last axis, ``(..., T)``. NaN in ``z`` (a month
without data) leaves the CUSUM and EWMA state unchanged for that month.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from radqa.errors import InputError

FloatArray = npt.NDArray[np.float64]

CUSUM_K = 0.5  # reference value: half the shift (in sigma) the chart is tuned to detect (1 sigma)
CUSUM_H = 4.0  # decision interval; with k = 0.5 the in-control ARL is about 168 (Montgomery 9.1)
EWMA_LAMBDA = 0.2
EWMA_L = 3.0  # with lambda = 0.2, L = 3 gives an in-control ARL of about 560 (Montgomery 9.2)


def standardized_deviation(x: npt.ArrayLike, n: npt.ArrayLike, p0: npt.ArrayLike) -> FloatArray:
    """``(x/n - p0) / sqrt(p0 (1 - p0) / n)``; NaN where ``n == 0`` or ``p0`` is 0 or 1.

    Examples
    --------
    >>> float(standardized_deviation(30, 100, 0.2).round(4))
    2.5
    """
    x_ = np.asarray(x, dtype=float)
    n_ = np.asarray(n, dtype=float)
    p0_ = np.asarray(p0, dtype=float)
    var = p0_ * (1 - p0_)
    ok = (n_ > 0) & (var > 0)
    safe_n = np.where(ok, n_, 1.0)
    safe_var = np.where(ok, var, 1.0)
    z = (x_ / safe_n - p0_) / np.sqrt(safe_var / safe_n)
    return np.where(ok, z, np.nan)


def p_chart_limits(
    p0: npt.ArrayLike, n: npt.ArrayLike, *, L: float = 3.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Centre line and L-sigma limits of a p-chart with variable sample size.

    ``UCL/LCL = p0 +/- L sqrt(p0 (1 - p0) / n_t)``, clipped to [0, 1] (Montgomery 2013, 7.3.1).

    Examples
    --------
    >>> c, lo, hi = p_chart_limits(0.1, [100, 400])
    >>> lo.round(3).tolist(), hi.round(3).tolist()
    ([0.01, 0.055], [0.19, 0.145])
    """
    p0_ = np.asarray(p0, dtype=float)
    n_ = np.asarray(n, dtype=float)
    half = L * np.sqrt(p0_ * (1 - p0_) / np.where(n_ > 0, n_, np.nan))
    centre = np.broadcast_to(p0_, half.shape).astype(float)
    return centre, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def cusum(
    z: npt.ArrayLike, *, k: float = CUSUM_K, h: float = CUSUM_H
) -> tuple[FloatArray, FloatArray]:
    """Tabular CUSUM on standardized values (Montgomery 2013, eq. 9.2-9.3).

    ``C+_t = max(0, z_t - k + C+_{t-1})``, ``C-_t = max(0, -z_t - k + C-_{t-1})``, both starting
    at 0. A signal is ``C+ > h`` (upward shift) or ``C- > h`` (downward shift).

    Returns
    -------
    (c_plus, c_minus) : arrays shaped like ``z``.

    Examples
    --------
    >>> cp, cm = cusum([0.0, 2.0, 2.0, 2.0, -1.0])
    >>> cp.tolist(), cm.tolist()
    ([0.0, 1.5, 3.0, 4.5, 3.0], [0.0, 0.0, 0.0, 0.0, 0.5])
    """
    if k < 0 or h <= 0:
        raise InputError(f"CUSUM k={k!r}, h={h!r}; expected k >= 0 and h > 0")
    z_ = np.asarray(z, dtype=float)
    c_plus = np.zeros_like(z_)
    c_minus = np.zeros_like(z_)
    up = np.zeros(z_.shape[:-1])
    down = np.zeros(z_.shape[:-1])
    for t in range(z_.shape[-1]):  # over months (few), vectorised over groups
        zt = z_[..., t]
        seen = ~np.isnan(zt)
        up = np.where(seen, np.maximum(0.0, np.where(seen, zt, 0) - k + up), up)
        down = np.where(seen, np.maximum(0.0, -np.where(seen, zt, 0) - k + down), down)
        c_plus[..., t] = up
        c_minus[..., t] = down
    return c_plus, c_minus


def ewma(
    z: npt.ArrayLike, *, lam: float = EWMA_LAMBDA, L: float = EWMA_L
) -> tuple[FloatArray, FloatArray]:
    """EWMA of standardized values with exact time-varying limits (Montgomery 2013, eq. 9.22-9.25).

    ``w_t = lam z_t + (1 - lam) w_{t-1}``, ``w_0 = 0``; since ``z ~ N(0, 1)`` in control, the
    limits are ``+/- L sqrt(lam / (2 - lam) (1 - (1 - lam)^(2 i)))`` where ``i`` counts the
    months with data so far. A signal is ``|w_t| > limit_t``.

    Returns
    -------
    (w, limit) : arrays shaped like ``z`` (limit is the upper one; the lower is ``-limit``).

    Examples
    --------
    >>> w, lim = ewma([1.0, 1.0])
    >>> w.round(3).tolist(), lim.round(3).tolist()
    ([0.2, 0.36], [0.6, 0.768])
    """
    if not 0 < lam <= 1 or L <= 0:
        raise InputError(f"EWMA lambda={lam!r}, L={L!r}; expected 0 < lambda <= 1 and L > 0")
    z_ = np.asarray(z, dtype=float)
    w = np.zeros_like(z_)
    limit = np.full_like(z_, np.nan)
    state = np.zeros(z_.shape[:-1])
    count = np.zeros(z_.shape[:-1])
    for t in range(z_.shape[-1]):  # over months (few), vectorised over groups
        zt = z_[..., t]
        seen = ~np.isnan(zt)
        state = np.where(seen, lam * np.where(seen, zt, 0) + (1 - lam) * state, state)
        count = count + seen
        w[..., t] = state
        var = lam / (2 - lam) * (1 - (1 - lam) ** (2 * count))
        limit[..., t] = np.where(count > 0, L * np.sqrt(var), np.nan)
    return w, limit
