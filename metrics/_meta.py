"""Heterogeneity across groups (sites, scanners, months) and pooled estimates.

Inverse-variance fixed effect, DerSimonian-Laird and REML random effects, Cochran's Q, I^2 and
the Q-profile interval for tau^2 and I^2. statsmodels ``combine_effects`` offers DL but (0.15)
does not truncate a negative tau^2 at 0, and has no REML nor Q-profile interval, so the few lines
are written here and checked against metafor's published BCG-vaccine results
(tests/metrics/test_meta.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from metrics._lazy import lazy_module
from metrics._proportions import check_alpha, z_crit
from metrics._types import Estimate, nan_estimate
from radqa.errors import InputError

if TYPE_CHECKING:
    from scipy import optimize, stats
else:
    optimize = lazy_module("scipy.optimize")
    stats = lazy_module("scipy.stats")

FloatArray = npt.NDArray[np.float64]
_SCALES = ("identity", "logit")


@dataclass(frozen=True, eq=False)
class Heterogeneity:
    """Between-group heterogeneity and pooled estimates.

    Attributes
    ----------
    k : int
        Number of groups.
    scale : str
        ``"identity"`` or ``"logit"`` (the analysis scale; estimates are reported back on the
        original scale, their ``se`` by the delta method).
    q, q_df, q_p_value : float
        Cochran's Q, its degrees of freedom ``k - 1`` and chi-square p-value.
    i2 : Estimate
        I^2 = tau^2 / (tau^2 + s^2) with the REML tau^2 and the "typical" within-group variance
        s^2 = (k - 1) sum(w) / (sum(w)^2 - sum(w^2)), w = 1 / v (Higgins & Thompson 2002), as a
        fraction, as metafor reports it; its interval maps the Q-profile bounds of ``tau2``.
    tau2 : Estimate
        The REML tau^2 (analysis scale) with the Q-profile interval (Viechtbauer 2007).
    tau2_dl, tau2_reml : float
        Between-group variance on the analysis scale: DerSimonian & Laird (1986) and REML.
    fixed, random_dl, random_reml : Estimate
        Pooled estimates: inverse-variance fixed effect, and random effects with each tau^2.
    groups : pandas.DataFrame
        One row per group, ready for a forest plot: ``label, value, low, high`` (original scale),
        ``y, se_y`` (analysis scale) and the relative weights ``weight_fixed, weight_dl,
        weight_reml`` (each column sums to 1).
    """

    k: int
    scale: str
    q: float
    q_df: int
    q_p_value: float
    i2: Estimate
    tau2: Estimate
    tau2_dl: float
    tau2_reml: float
    fixed: Estimate
    random_dl: Estimate
    random_reml: Estimate
    groups: pd.DataFrame


def _logit(p: FloatArray) -> FloatArray:
    return np.asarray(np.log(p / (1 - p)), dtype=float)


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _read_input(estimates: Any, scale: str, z: float) -> pd.DataFrame:
    """Normalise the input to columns label, value, low, high, y, se_y."""
    if isinstance(estimates, pd.DataFrame):
        df = estimates.copy()
    else:
        rows = []
        for item in estimates:
            try:
                label, e = item
                rows.append(
                    {"label": label, "value": e.value, "se": e.se, "low": e.low, "high": e.high}
                )
            except (TypeError, ValueError, AttributeError):
                raise InputError(
                    f"estimates item is {item!r}; expected a (label, Estimate) pair"
                ) from None
        df = pd.DataFrame(rows, columns=["label", "value", "se", "low", "high"])
    if df.empty:
        raise InputError("estimates is empty; expected at least one group")
    if "label" not in df.columns:
        df["label"] = [str(i) for i in range(len(df))]
    has = set(df.columns)
    if {"count", "nobs"} <= has and scale == "logit" and "value" not in has:
        x, n = df["count"].to_numpy(float), df["nobs"].to_numpy(float)
        if ((x < 0) | (n <= 0) | (x > n)).any():
            raise InputError("count/nobs: expected 0 <= count <= nobs and nobs > 0 in every row")
        edge = (x == 0) | (x == n)
        xc, nc = np.where(edge, x + 0.5, x), np.where(edge, n + 1, n)
        df["value"] = x / n
        df["y"] = _logit(xc / nc)
        df["se_y"] = np.sqrt(1 / xc + 1 / (nc - xc))
    else:
        if "value" not in has or not ({"se"} <= has or {"low", "high"} <= has):
            raise InputError(
                f"estimates has columns {', '.join(map(str, df.columns))}; expected label, value "
                "and se (or low and high); or, with scale='logit', count and nobs"
            )
        value = df["value"].to_numpy(float)
        se = df["se"].to_numpy(float) if "se" in has else np.full(len(df), np.nan)
        low = df["low"].to_numpy(float) if "low" in has else np.full(len(df), np.nan)
        high = df["high"].to_numpy(float) if "high" in has else np.full(len(df), np.nan)
        if scale == "logit":
            inside = (value > 0) & (value < 1)
            if not inside.all():
                i = int(np.flatnonzero(~inside)[0])
                raise InputError(
                    f"group {df['label'].iloc[i]!r} has proportion {float(value[i])!r}; "
                    "the logit scale needs 0 < p < 1 "
                    "(pass columns count and nobs for a 0.5 continuity correction)"
                )
            y = _logit(value)
            with np.errstate(divide="ignore", invalid="ignore"):
                se_y = np.where(
                    np.isfinite(se) & (se > 0),
                    se / (value * (1 - value)),
                    (_logit(high) - _logit(low)) / (2 * z),
                )
        else:
            y = value
            se_y = np.where(np.isfinite(se) & (se > 0), se, (high - low) / (2 * z))
        df["y"] = y
        df["se_y"] = np.where(np.isnan(se_y) & ~np.isnan(se), se, se_y)  # report the se given
    bad = ~np.isfinite(df["y"].to_numpy(float)) | ~(df["se_y"].to_numpy(float) > 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"group {df['label'].iloc[i]!r} has value {float(df['value'].iloc[i])!r} and standard "
            f"error {float(df['se_y'].iloc[i])!r} on the {scale} scale; "
            "expected a finite value and se > 0"
        )
    for col in ("low", "high"):
        if col not in df.columns:
            df[col] = np.nan
    return df


def _reml_step(y: FloatArray, v: FloatArray, tau2: float) -> float:
    """One Fisher scoring step of the REML tau^2 (Viechtbauer 2005): score / information."""
    w = 1 / (v + tau2)
    sw, sw2 = w.sum(), (w**2).sum()
    mu = (w * y).sum() / sw
    tr_p = sw - sw2 / sw
    tr_pp = sw2 - 2 * (w**3).sum() / sw + (sw2 / sw) ** 2
    return float(((w**2 * (y - mu) ** 2).sum() - tr_p) / tr_pp)


def _reml_loglik(y: FloatArray, v: FloatArray, tau2: float) -> float:
    """The restricted log-likelihood of tau^2, up to a constant."""
    w = 1 / (v + tau2)
    mu = (w * y).sum() / w.sum()
    return float(-0.5 * (np.log(v + tau2).sum() + math.log(w.sum()) + (w * (y - mu) ** 2).sum()))


def _tau2_reml(y: FloatArray, v: FloatArray, start: float) -> float:
    """REML tau^2 by Fisher scoring (Viechtbauer 2005) on tau^2 >= 0, with step halving.

    A step is cut at tau^2 = 0 and halved while it lowers the restricted likelihood. Plain
    scoring truncated at 0 can overshoot the maximum by more than its distance and then jump
    between 0 and one positive value for ever (nine groups with sampling variances from 0.05
    to 1.1 did: tests/metrics/test_meta.py).
    """
    tau2 = max(start, 0.0)
    ll = _reml_loglik(y, v, tau2)
    for _ in range(200):
        step = _reml_step(y, v, tau2)
        if tau2 == 0.0 and step <= 0:
            return 0.0  # the maximum is on the boundary
        new = max(tau2 + step, 0.0)
        new_ll = _reml_loglik(y, v, new)
        tol = 1e-12 * max(1.0, tau2)
        while new_ll < ll and abs(new - tau2) >= tol:
            new = tau2 + (new - tau2) / 2
            new_ll = _reml_loglik(y, v, new)
        if abs(new - tau2) < tol:
            return float(new)
        tau2, ll = new, new_ll
    return math.nan


def _pooled(
    y: FloatArray, v: FloatArray, tau2: float, label: str, scale: str, z: float
) -> tuple[Estimate, FloatArray]:
    if not math.isfinite(tau2):
        return nan_estimate(label, "REML did not converge in 200 iterations"), np.full(
            y.size, np.nan
        )
    w = 1 / (v + tau2)
    mu = float((w * y).sum() / w.sum())
    se = math.sqrt(1 / w.sum())
    if scale == "logit":
        p = _expit(mu)
        est = Estimate(p, _expit(mu - z * se), _expit(mu + z * se), se * p * (1 - p), label)
    else:
        est = Estimate(mu, mu - z * se, mu + z * se, se, label)
    return est, w / w.sum()


def _q_gen(tau2: float, y: FloatArray, v: FloatArray) -> float:
    """Generalised Q: sum (y - mu)^2 / (v + tau^2), mu the weighted mean at that tau^2."""
    w = 1 / (v + tau2)
    mu = (w * y).sum() / w.sum()
    return float((w * (y - mu) ** 2).sum())


def _tau2_q_profile(y: FloatArray, v: FloatArray, alpha: float) -> tuple[float, float, str | None]:
    """Q-profile interval for tau^2 (Viechtbauer 2007), as metafor's ``confint.rma.uni``.

    Q(tau^2) decreases in tau^2. The lower bound solves Q = chi^2 quantile 1 - alpha/2 with
    k - 1 df (0 when Q(0) is already below it), the upper bound Q = quantile alpha/2. When Q(0)
    is below that one too the interval is empty (metafor's "null set"): NaN bounds and a note.
    """
    k = y.size
    # the lower bound comes from the upper quantile and the upper bound from the lower one
    chi2_upper, chi2_lower = (float(c) for c in stats.chi2.ppf([1 - alpha / 2, alpha / 2], k - 1))
    q0 = _q_gen(0.0, y, v)
    if q0 < chi2_lower:
        return (
            math.nan,
            math.nan,
            f"no interval: Q = {q0:.3g} is below the {alpha / 2:g} quantile of chi^2({k - 1}), "
            f"{chi2_lower:.3g}; the groups agree more closely than their standard errors predict "
            "(the Q-profile interval is empty)",
        )
    # Q(t) <= S / (min v + t) with S = sum (y - mean y)^2, so Q(S / chi2_lower) < chi2_lower
    top = float(((y - y.mean()) ** 2).sum()) / chi2_lower

    def solve(crit: float) -> float:
        if q0 <= crit:
            return 0.0
        return float(optimize.brentq(lambda t: _q_gen(t, y, v) - crit, 0.0, top, xtol=1e-14))

    return solve(chi2_upper), solve(chi2_lower), None


def _i2_tau2(
    y: FloatArray, v: FloatArray, tau2_reml: float, alpha: float
) -> tuple[Estimate, Estimate]:
    """I^2 and tau^2 (REML point estimates) with their Q-profile intervals."""
    i2_label = "I^2 (REML tau^2) with Q-profile CI (Viechtbauer 2007)"
    tau2_label = "tau^2 (REML) with Q-profile CI (Viechtbauer 2007)"
    k = y.size
    if k < 2:
        why = "one group: heterogeneity undefined"
        return nan_estimate(i2_label, why), nan_estimate(tau2_label, why)
    w = 1 / v
    s2 = (k - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum())  # "typical" within-group variance
    low, high, note = _tau2_q_profile(y, v, alpha)
    if math.isnan(tau2_reml):
        note = "REML did not converge in 200 iterations" + (f"; {note}" if note else "")
    elif not low <= tau2_reml <= high and note is None:
        note = (
            "the REML estimate lies outside the Q-profile interval (the two rest on different "
            "criteria; metafor shows the same)"
        )

    def i2(t: float) -> float:
        return float(t / (t + s2))

    return (
        Estimate(i2(tau2_reml), i2(low), i2(high), None, i2_label, note),
        Estimate(tau2_reml, low, high, None, tau2_label, note),
    )


def heterogeneity(
    estimates: Sequence[tuple[str, Estimate]] | pd.DataFrame,
    *,
    scale: str = "identity",
    alpha: float = 0.05,
) -> Heterogeneity:
    """Cochran's Q, I^2, tau^2 and fixed / random-effects pooled estimates across groups.

    Parameters
    ----------
    estimates : sequence of (label, Estimate) or DataFrame
        One estimate per group. A DataFrame has ``label``, ``value`` and ``se`` (or ``low`` and
        ``high``, from which ``se = (high - low) / (2 z)`` on the analysis scale); with
        ``scale="logit"`` it may have ``count`` and ``nobs`` instead, and groups at 0 or 1 then
        get a 0.5 continuity correction.
    scale : {"identity", "logit"}
        Analysis scale. Proportions (sensitivity per site, ...) pool on the logit scale, with
        ``se_logit = se / (p (1 - p))`` (the Wald se gives the usual ``1 / (n p (1 - p))``).
    alpha : float
        1 - confidence level.

    Notes
    -----
    Fixed effect: inverse-variance weights. DerSimonian & Laird (1986) moment estimator of tau^2,
    truncated at 0. REML: Fisher scoring from the DL value (Viechtbauer 2005) on tau^2 >= 0,
    with step halving. I^2 = tau^2 / (tau^2 + s^2) with the REML tau^2 and the typical
    within-group variance s^2 (Higgins & Thompson 2002; metafor's definition; with the DL tau^2
    it is (Q - df) / Q). Its interval and that of tau^2: the Q-profile method (Viechtbauer 2007;
    metafor's ``confint`` default), the tau^2 at which the generalised Q statistic equals the
    chi^2(k - 1) quantiles 1 - alpha/2 and alpha/2, found with Brent's method. It replaces the
    Higgins & Thompson test-based interval from ln H, which with few groups and Q < df came out
    as 0 % to 0 % although the data allow large I^2. With few groups the REML estimate can, in
    rare cases, lie just outside the Q-profile interval (as in metafor); ``note`` says so.

    Examples
    --------
    >>> import pandas as pd
    >>> h = heterogeneity(pd.DataFrame({"label": ["a", "b", "c"], "value": [0.1, 0.5, 0.3],
    ...                                 "se": [0.1, 0.1, 0.1]}))
    >>> round(h.q, 2), round(h.fixed.value, 2), round(h.i2.value, 2)
    (8.0, 0.3, 0.75)
    """
    if scale not in _SCALES:
        raise InputError(f"unknown scale {scale!r}; expected one of {', '.join(_SCALES)}")
    alpha = check_alpha(alpha)
    z = z_crit(alpha)
    df = _read_input(estimates, scale, z)
    y = df["y"].to_numpy(float)
    v = df["se_y"].to_numpy(float) ** 2
    k = y.size

    w = 1 / v
    mu_fe = float((w * y).sum() / w.sum())
    q = float((w * (y - mu_fe) ** 2).sum())
    q_df = k - 1
    q_p = float(stats.chi2.sf(q, q_df)) if k > 1 else math.nan
    c = w.sum() - (w**2).sum() / w.sum()
    tau2_dl = max(0.0, (q - q_df) / c) if k > 1 else math.nan
    tau2_reml = _tau2_reml(y, v, tau2_dl) if k > 1 else math.nan

    suffix = ", logit scale, back-transformed" if scale == "logit" else ""
    fixed, w_fe = _pooled(y, v, 0.0, f"fixed effect, inverse variance{suffix}", scale, z)
    if k > 1:
        random_dl, w_dl = _pooled(
            y, v, tau2_dl, f"random effects, DerSimonian-Laird (1986){suffix}", scale, z
        )
        random_reml, w_reml = _pooled(y, v, tau2_reml, f"random effects, REML{suffix}", scale, z)
    else:
        random_dl, w_dl = fixed, w_fe
        random_reml, w_reml = fixed, w_fe

    i2, tau2 = _i2_tau2(y, v, tau2_reml, alpha)
    se_y = np.sqrt(v)
    low, high = df["low"].to_numpy(float), df["high"].to_numpy(float)
    missing = ~(np.isfinite(low) & np.isfinite(high))
    if scale == "logit":
        back_low, back_high = 1 / (1 + np.exp(-(y - z * se_y))), 1 / (1 + np.exp(-(y + z * se_y)))
    else:
        back_low, back_high = y - z * se_y, y + z * se_y
    groups = pd.DataFrame(
        {
            "label": df["label"].astype(str).to_numpy(),
            "value": df["value"].to_numpy(float),
            "low": np.where(missing, back_low, low),
            "high": np.where(missing, back_high, high),
            "y": y,
            "se_y": se_y,
            "weight_fixed": w_fe,
            "weight_dl": w_dl,
            "weight_reml": w_reml,
        }
    )
    return Heterogeneity(
        k=k,
        scale=scale,
        q=q,
        q_df=q_df,
        q_p_value=q_p,
        i2=i2,
        tau2=tau2,
        tau2_dl=tau2_dl,
        tau2_reml=tau2_reml,
        fixed=fixed,
        random_dl=random_dl,
        random_reml=random_reml,
        groups=groups,
    )
