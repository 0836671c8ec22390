"""Drift methods registered by key (after NannyML's ``drift/univariate/methods.py``).

Every method is a small class behind a key in :data:`METHODS`; :func:`get_method` looks one up
and an unknown key's error lists the valid keys. Methods take small arrays of sufficient
statistics (counts, histograms) that SQL produced, vectorised over groups and months: the
reference has shape ``(G, 1, ...)`` and the monitored periods ``(G, T, ...)``, the category or
bin axis last. Each returns a :class:`DriftResult` of ``(G, T)`` arrays.

Kinds of input
--------------
``categorical``
    Counts per category (scanner model, software version, body part, sex, age band).
``score``
    Score histograms on fixed bins of [0, 1] (equal width; the monitor uses 50).
``proportion``
    ``x`` successes of ``n`` (AI positive rate, sensitivity, specificity, discordance,
    prevalence, label completeness).
``count``
    Monthly volume against the reference's monthly mean.

``value`` is always the quantity a rule's threshold applies to: a distance (PSI, JS, KS's D,
Wasserstein), a difference of proportions (current minus reference), a relative change of
volume (ratio minus 1), or for SPC a statistic in sigma units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from metrics import _spc
from metrics._lazy import lazy_function, lazy_module
from radqa.errors import InputError

if TYPE_CHECKING:
    from scipy import stats
    from scipy.spatial.distance import jensenshannon
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
else:
    stats = lazy_module("scipy.stats")
    jensenshannon = lazy_function("scipy.spatial.distance", "jensenshannon")
    confint_proportions_2indep = lazy_function(
        "statsmodels.stats.proportion", "confint_proportions_2indep"
    )
    proportion_confint = lazy_function("statsmodels.stats.proportion", "proportion_confint")

FloatArray = npt.NDArray[np.float64]

PSI_EPSILON = 1e-4
"""Floor for a bin's share in the PSI, so ``ln(c / r)`` stays finite when a bin is empty in one
period. 1e-4 is below any share a bin of a period with fewer than 10,000 rows can have, so it only
ever replaces an exact zero (and then bounds that bin's term by about 0.0009 * ln(1e4) per 0.1%
of share)."""

PSI_BINS = 10
FISHER_MIN_EXPECTED = 5.0  # below this expected cell count the two-proportion test is Fisher's


@dataclass(frozen=True)
class DriftResult:
    """Result arrays of one method, all of shape ``(G, T)``.

    ``signal_up`` / ``signal_down`` are set only by the SPC methods (their decision rule is the
    control limit, not a p-value); for the others they are None.
    """

    value: FloatArray
    current: FloatArray
    reference: FloatArray
    n: FloatArray
    n_reference: FloatArray
    p_value: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    method: str
    signal_up: npt.NDArray[np.bool_] | None = None
    signal_down: npt.NDArray[np.bool_] | None = None


def _nan_like(a: npt.NDArray[Any]) -> FloatArray:
    return np.full(a.shape, np.nan)


def _share(counts: FloatArray) -> FloatArray:
    total = counts.sum(axis=-1, keepdims=True)
    return counts / np.where(total > 0, total, np.nan)


def chi2_homogeneity(ref: npt.ArrayLike, cur: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Pearson chi-square of the 2 x K table ``[ref; cur]``, vectorised over leading axes.

    Categories empty in both rows are dropped (as if absent); ``df = K_used - 1``; no Yates
    correction. Equals ``scipy.stats.chi2_contingency(table, correction=False)``. A table with
    one used category (nothing to compare) gets statistic 0 and p = 1; an empty row gets NaN.

    Returns
    -------
    (statistic, p_value)
    """
    r, c = np.broadcast_arrays(np.asarray(ref, dtype=float), np.asarray(cur, dtype=float))
    col = r + c
    nr, nc = r.sum(-1, keepdims=True), c.sum(-1, keepdims=True)
    total = nr + nc
    used = col > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        er, ec = col * nr / total, col * nc / total
        terms = np.where(used, (r - er) ** 2 / er + (c - ec) ** 2 / ec, 0.0)
    stat = terms.sum(-1)
    df = used.sum(-1) - 1
    p = np.where(df > 0, stats.chi2.sf(stat, np.maximum(df, 1)), 1.0)
    empty = (nr[..., 0] == 0) | (nc[..., 0] == 0)
    return np.where(empty, np.nan, stat), np.where(empty, np.nan, p)


@dataclass(frozen=True)
class ValueRange:
    """The numbers a rule's threshold or a method parameter may take, and why.

    >>> ValueRange(0.0, 1.0, high_open=True).describe()
    'a number >= 0 and < 1'
    >>> ValueRange(0.0, low_open=True).contains(0.0)
    False
    """

    low: float
    high: float | None = None
    low_open: bool = False  # the bound itself is excluded
    high_open: bool = False
    why: str = ""

    def contains(self, value: object) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        low = f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is None:
            return f"a number {low}"
        return f"a number {low} and {'<' if self.high_open else '<='} {self.high:g}"


def _below_one(effect: str) -> ValueRange:
    return ValueRange(
        0.0, 1.0, high_open=True,
        why=f"{effect} is at most 1, and an alert needs it to exceed the threshold",
    )  # fmt: skip


_SIGMA = ValueRange(
    0.0, low_open=True, why="sigma units; a limit of 0 would signal on any deviation at all"
)
_CI_ALPHA = ValueRange(
    0.0, 1.0, low_open=True, high_open=True,
    why="the confidence interval shown is at level 1 - alpha",
)  # fmt: skip


class DriftMethod:
    """Base class: a key, the kind of input it takes, a label for reports, and what a rule may
    set for it (checked when the rules file is read, :mod:`metrics._rules`).

    ``signed``: the value has a sign (a difference, a change, a z), so a rule's ``direction``
    applies; otherwise it is a distance, never negative. ``threshold_range``: the thresholds
    that can be exceeded and not by every value. ``threshold_param``: the constructor
    parameter the rule's threshold sets (the SPC charts' limit). ``params``: the other
    constructor parameters a rule's ``params`` table may set, with their ranges.
    ``cumulative``: the method carries its state from month to month (CUSUM, EWMA), so a rule
    must not pool months into rolling windows as well.
    """

    key: ClassVar[str]
    kind: ClassVar[str]
    label: str  # the class default; a method whose label shows its params sets its own
    has_test: ClassVar[bool] = True  # False: decided on the threshold alone (no p-value)
    signed: ClassVar[bool] = False
    threshold_range: ClassVar[ValueRange] = ValueRange(0.0)
    threshold_param: ClassVar[str | None] = None
    params: ClassVar[dict[str, ValueRange]] = {}
    cumulative: ClassVar[bool] = False

    def __init__(self, *, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def sufficient(self, res: DriftResult, min_n: int) -> npt.NDArray[np.bool_]:
        """Where a rule's ``min_n`` is met: at least ``min_n`` rows in the period and in the
        reference, and a value to judge."""
        n, n_ref = np.nan_to_num(res.n), np.nan_to_num(res.n_reference)
        return (n >= min_n) & (n_ref >= min_n) & ~np.isnan(res.value)


# ------------------------------------------------------------------------------ categorical
class Chi2(DriftMethod):
    """Pearson chi-square test of homogeneity, reference vs period category counts.

    ``value`` is Cramer's V of the 2 x K table (an effect size in [0, 1]); ``p_value`` the
    chi-square test's (Pearson 1900; scipy ``chi2_contingency`` without Yates correction).
    """

    key, kind = "chi2", "categorical"
    threshold_range = _below_one("Cramer's V")
    label = "chi-square test of homogeneity (Pearson), effect size Cramer's V"

    def compute(self, ref: FloatArray, cur: FloatArray) -> DriftResult:
        stat, p = chi2_homogeneity(ref, cur)
        n, n_ref = cur.sum(-1), np.broadcast_to(ref.sum(-1), stat.shape)
        used = ((ref + cur) > 0).sum(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.sqrt(stat / (n + n_ref) / np.maximum(np.minimum(used, 2) - 1, 1))
        nan = _nan_like(stat)
        return DriftResult(v, nan, nan, n, n_ref, p, nan, nan, self.label)


class JensenShannon(DriftMethod):
    """Jensen-Shannon distance (base 2, in [0, 1]) between category distributions (Lin 1991).

    scipy ``spatial.distance.jensenshannon``; the p-value is the chi-square test of
    homogeneity on the same counts (the distance has no test of its own).
    """

    key, kind = "jensen_shannon", "categorical"
    threshold_range = _below_one("a Jensen-Shannon distance (base 2)")
    label = "Jensen-Shannon distance (base 2); p: chi-square test of homogeneity"

    def compute(self, ref: FloatArray, cur: FloatArray) -> DriftResult:
        r, c = np.broadcast_arrays(ref, cur)
        with np.errstate(divide="ignore", invalid="ignore"):
            js = jensenshannon(r, c, axis=-1, base=2)
        _, p = chi2_homogeneity(ref, cur)
        n, n_ref = cur.sum(-1), np.broadcast_to(ref.sum(-1), p.shape)
        js = np.where((n > 0) & (n_ref > 0), js, np.nan)
        nan = _nan_like(p)
        return DriftResult(js, nan, nan, n, n_ref, p, nan, nan, self.label)


class NewCategory(DriftMethod):
    """Categories present in the period but never seen in the reference (an event, no test).

    Returns ``(G, T, K)`` arrays: ``value`` is the category's share of the period, ``n`` its
    count (NaN for categories that are not new or absent), ``n_reference`` the reference's
    total. The totals are the sums over the categories unless ``ref_total`` ``(G, 1, 1)`` and
    ``cur_total`` ``(G, T, 1)`` are given: a model's versions, where a study two versions
    scored side by side counts under each, have the model's distinct studies as total.

    >>> ref, cur = np.array([[[25.0, 0.0]]]), np.array([[[25.0, 25.0]]])
    >>> NewCategory().compute(ref, cur).value.tolist()
    [[[nan, 0.5]]]
    >>> NewCategory().compute(ref, cur, np.array([[[25.0]]]), np.array([[[25.0]]])).value.tolist()
    [[[nan, 1.0]]]
    """

    key, kind = "new_category", "new_category"
    label = "category never seen in the reference window"
    has_test = False
    threshold_range = _below_one("a category's share of the month")

    def compute(
        self,
        ref: FloatArray,
        cur: FloatArray,
        ref_total: FloatArray | None = None,
        cur_total: FloatArray | None = None,
    ) -> DriftResult:
        r, c = np.broadcast_arrays(ref, cur)
        new = (r == 0) & (c > 0)
        if cur_total is None:
            share = _share(c)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                share = c / np.where(cur_total > 0, cur_total, np.nan)
        ref_n = ref.sum(-1, keepdims=True) if ref_total is None else ref_total
        n_ref = np.broadcast_to(ref_n, c.shape).astype(float)
        nan = _nan_like(c)
        return DriftResult(
            np.where(new, share, np.nan), nan, nan, np.where(new, c, np.nan), n_ref,
            nan, nan, nan, self.label,
        )  # fmt: skip


# ------------------------------------------------------------------------------ scores
def decile_bins(ref_hist: npt.ArrayLike, n_bins: int = PSI_BINS) -> npt.NDArray[np.intp]:
    """Map fine histogram bins to ``n_bins`` coarse bins of about equal reference mass.

    Fine bin ``j`` goes to coarse bin ``floor(n_bins * F_mid(j))`` where ``F_mid`` is the
    reference CDF at the middle of the bin's mass, so the coarse bins are the reference deciles
    rounded to the fine grid (a fine bin holding more than 10% stays whole).
    """
    h = np.asarray(ref_hist, dtype=float)
    total = h.sum(-1, keepdims=True)
    mid = (np.cumsum(h, -1) - h / 2) / np.where(total > 0, total, 1.0)
    return np.clip(np.floor(mid * n_bins), 0, n_bins - 1).astype(np.intp)


def coarsen(hist: npt.ArrayLike, index: npt.NDArray[np.intp], n_bins: int) -> FloatArray:
    """Sum fine bins of ``hist`` (..., B) into ``n_bins`` coarse bins given by ``index``."""
    h = np.asarray(hist, dtype=float)
    onehot = index[..., None] == np.arange(n_bins)  # (..., B, n_bins)
    out: FloatArray = np.einsum("...b,...bk->...k", h, onehot.astype(float))
    return out


def psi_from_counts(ref: npt.ArrayLike, cur: npt.ArrayLike, eps: float = PSI_EPSILON) -> FloatArray:
    """Population stability index ``sum (c - r) ln(c / r)`` over bins of two count vectors.

    Shares below ``eps`` are raised to ``eps`` (see :data:`PSI_EPSILON`); bins empty in both
    periods add nothing. Siddiqi (2006), *Credit Risk Scorecards*, ch. 8; the conventional
    reading is < 0.1 stable, 0.1-0.2 some shift, > 0.2 a major shift.
    """
    r = _share(np.asarray(ref, dtype=float))
    c = _share(np.asarray(cur, dtype=float))
    both_empty = (r == 0) & (c == 0)
    rr, cc = np.maximum(r, eps), np.maximum(c, eps)
    out: FloatArray = np.where(both_empty, 0.0, (cc - rr) * np.log(cc / rr)).sum(-1)
    return out


class PSI(DriftMethod):
    """Population stability index on reference-decile bins (see :func:`decile_bins`).

    The p-value is the chi-square test of homogeneity on the same 10 bins.
    """

    key, kind = "psi", "score"
    label = "PSI on reference-decile bins (epsilon 1e-4); p: chi-square on the same bins"

    def compute(self, ref: FloatArray, cur: FloatArray) -> DriftResult:
        index = decile_bins(ref)
        r10, c10 = coarsen(ref, index, PSI_BINS), coarsen(cur, index, PSI_BINS)
        value = psi_from_counts(r10, c10)
        _, p = chi2_homogeneity(r10, c10)
        n, n_ref = cur.sum(-1), np.broadcast_to(ref.sum(-1), p.shape)
        value = np.where((n > 0) & (n_ref > 0), value, np.nan)
        nan = _nan_like(p)
        return DriftResult(value, nan, nan, n, n_ref, p, nan, nan, self.label)


class KS(DriftMethod):
    """Two-sample Kolmogorov-Smirnov statistic D from binned counts.

    ``D = max |F_ref - F_cur|`` over the bin edges, which equals scipy ``ks_2samp`` on scores at
    the bin centres (binning can only lower D). p-value: Kolmogorov's limiting distribution,
    ``P(K > D sqrt(n m / (n + m)))`` (scipy ``kstwobign``; Smirnov 1948), close to
    ``ks_2samp(method="asymp")`` at the sizes monitored and much faster than the exact one.
    """

    key, kind = "ks", "score"
    threshold_range = _below_one("the Kolmogorov-Smirnov D")
    label = "Kolmogorov-Smirnov two-sample D on binned scores (asymptotic p)"

    def compute(self, ref: FloatArray, cur: FloatArray) -> DriftResult:
        fr = np.cumsum(_share(ref), -1)
        fc = np.cumsum(_share(cur), -1)
        d = np.abs(fr - fc).max(-1)
        n, n_ref = cur.sum(-1), np.broadcast_to(ref.sum(-1), d.shape)
        ok = (n > 0) & (n_ref > 0)
        en = np.where(ok, n * n_ref / np.where(ok, n + n_ref, 1), 1)
        p = np.where(ok, stats.kstwobign.sf(d * np.sqrt(en)), np.nan)
        nan = _nan_like(d)
        return DriftResult(np.where(ok, d, np.nan), nan, nan, n, n_ref, p, nan, nan, self.label)


class Wasserstein(DriftMethod):
    """First Wasserstein (earth mover's) distance between the two score histograms.

    ``W1 = sum_j |F_ref(j) - F_cur(j)| * width`` with the mass at bin centres; equals scipy
    ``wasserstein_distance(centres, centres, ref_counts, cur_counts)``. No test: decided on the
    threshold (in score units) and the minimum n.
    """

    key, kind = "wasserstein", "score"
    label = "Wasserstein-1 distance between binned score distributions"
    has_test = False
    threshold_range = _below_one("a Wasserstein distance between scores in [0, 1]")

    def compute(self, ref: FloatArray, cur: FloatArray) -> DriftResult:
        width = 1.0 / ref.shape[-1]
        fr = np.cumsum(_share(ref), -1)
        fc = np.cumsum(_share(cur), -1)
        w = (np.abs(fr - fc)[..., :-1]).sum(-1) * width
        n, n_ref = cur.sum(-1), np.broadcast_to(ref.sum(-1), w.shape)
        nan = _nan_like(w)
        return DriftResult(w, nan, nan, n, n_ref, nan, nan, nan, self.label)


# ------------------------------------------------------------------------------ proportions
def two_proportion_test(
    x1: npt.ArrayLike, n1: npt.ArrayLike, x0: npt.ArrayLike, n0: npt.ArrayLike
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Two-sided p-value comparing ``x1/n1`` with ``x0/n0``, vectorised.

    The pooled z test (equal to Pearson's chi-square without continuity correction); where an
    expected cell count is below 5, Fisher's exact test (scipy ``fisher_exact``) instead, run
    only for those few groups. Returns ``(p_value, used_fisher)``; NaN where a group is empty.
    """
    a, b, c, d = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x1, n1, x0, n0)))
    ok = (b > 0) & (d > 0)
    pooled = np.where(ok, (a + c) / np.where(ok, b + d, 1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(pooled * (1 - pooled) * (1 / b + 1 / d))
        z = (a / b - c / d) / se
    p = np.where(se > 0, 2 * stats.norm.sf(np.abs(z)), 1.0)
    p = np.where(ok, p, np.nan)
    expected = np.minimum.reduce([b * pooled, b * (1 - pooled), d * pooled, d * (1 - pooled)])
    fisher = ok & (expected < FISHER_MIN_EXPECTED)
    if fisher.any():
        p[fisher] = fisher_exact_two_sided(a[fisher], b[fisher], c[fisher], d[fisher])
    return p, fisher


def fisher_exact_two_sided(
    x1: npt.ArrayLike, n1: npt.ArrayLike, x0: npt.ArrayLike, n0: npt.ArrayLike
) -> FloatArray:
    """Fisher's exact test, two-sided, for many 2x2 tables at once (equals scipy fisher_exact).

    Conditional on the margins the count ``x1`` is hypergeometric; the p-value sums the
    probabilities of every table no more likely than the one observed (relative tolerance
    1e-7, as R and scipy do). Vectorised over tables by padding each table's support.
    """
    a, b, c, d = (np.asarray(v, dtype=np.int64).ravel() for v in (x1, n1, x0, n0))
    if a.size == 0:
        return np.empty(0)
    total, successes = b + d, a + c
    lo = np.maximum(0, successes - d)
    hi = np.minimum(successes, b)
    k = lo[:, None] + np.arange(int((hi - lo).max()) + 1)[None, :]
    inside = k <= hi[:, None]
    logpmf = stats.hypergeom.logpmf(
        np.where(inside, k, lo[:, None]), total[:, None], successes[:, None], b[:, None]
    )
    observed = stats.hypergeom.logpmf(a, total, successes, b)
    keep = inside & (logpmf <= observed[:, None] + np.log1p(1e-7))
    p = np.where(keep, np.exp(logpmf), 0.0).sum(axis=1)
    out: FloatArray = np.minimum(p, 1.0)
    return out


def newcombe_difference(
    x1: npt.ArrayLike, n1: npt.ArrayLike, x0: npt.ArrayLike, n0: npt.ArrayLike, *, alpha: float
) -> tuple[FloatArray, FloatArray]:
    """Newcombe (1998, method 10) hybrid score CI for ``x1/n1 - x0/n0``, vectorised.

    statsmodels ``confint_proportions_2indep(method="newcomb")``, the computation
    :func:`metrics.difference_ci` uses for one pair; NaN where a group is empty.
    """
    a, b, c, d = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x1, n1, x0, n0)))
    ok = (b > 0) & (d > 0)
    low, high = confint_proportions_2indep(
        np.where(ok, a, 0), np.where(ok, b, 1), np.where(ok, c, 0), np.where(ok, d, 1),
        method="newcomb", compare="diff", alpha=alpha,
    )  # fmt: skip
    return np.where(ok, low, np.nan), np.where(ok, high, np.nan)


class TwoProportion(DriftMethod):
    """Period proportion vs reference proportion: difference, Newcombe CI, z or Fisher test."""

    key, kind = "two_proportion", "proportion"
    signed = True
    threshold_range = _below_one("a difference of proportions")
    params = {"alpha": _CI_ALPHA}
    label = "two-proportion z test (Fisher exact where an expected count < 5); Newcombe CI"

    def __init__(self, *, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def compute(self, x0: FloatArray, n0: FloatArray, x: FloatArray, n: FloatArray) -> DriftResult:
        x0b, n0b = np.broadcast_to(x0, x.shape), np.broadcast_to(n0, n.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            cur = np.where(n > 0, x / n, np.nan)
            ref = np.where(n0b > 0, x0b / n0b, np.nan)
        p, _ = two_proportion_test(x, n, x0b, n0b)
        low, high = newcombe_difference(x, n, x0b, n0b, alpha=self.alpha)
        return DriftResult(cur - ref, cur, ref, n, n0b.astype(float), p, low, high, self.label)


class PoissonVolume(DriftMethod):
    """Monthly volume vs the reference's monthly mean: relative change and exact rate test.

    Under equal rates, a month's count ``x`` given ``x + X_ref`` is binomial with
    ``pi = 1 / (1 + m)`` (``m`` reference months per month the count covers, one value or one
    per period; Przyborowski & Wilenski 1940). The two-sided p-value doubles the smaller tail;
    the rate ratio's CI comes from the Clopper-Pearson interval for ``pi``. ``value`` is
    ``x / (X_ref / m) - 1``.

    ``min_n`` applies to the reference's mean over the months the count covers (the volume
    expected), not to the count itself: a group that had enough studies before and has few or
    none now is the volume drop to report (a site that stopped sending has 0 studies), not
    "insufficient data".
    """

    key, kind = "poisson", "count"
    signed = True  # a fall is at most 100% (value -1): metrics._rules checks 'decrease' rules
    params = {"alpha": _CI_ALPHA}
    label = "exact conditional test of Poisson rates (Przyborowski & Wilenski 1940)"

    def __init__(self, *, alpha: float = 0.05) -> None:
        self.alpha = alpha

    def compute(self, ref_total: FloatArray, m: float | FloatArray, x: FloatArray) -> DriftResult:
        xr = np.broadcast_to(ref_total, x.shape).astype(float)
        total = x + xr
        pi0 = 1.0 / (1.0 + m)
        ok = (xr > 0) & (total > 0)
        p = np.minimum(
            1.0, 2 * np.minimum(stats.binom.cdf(x, total, pi0), stats.binom.sf(x - 1, total, pi0))
        )
        lo, hi = proportion_confint(x, np.where(ok, total, 1), alpha=self.alpha, method="beta")
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = xr / m
            ratio = x / mean
            r_lo, r_hi = m * lo / (1 - lo), m * hi / (1 - hi)
        nan = np.where(ok, 0.0, np.nan)
        return DriftResult(
            ratio - 1 + nan, x.astype(float), mean, x.astype(float), xr, p + nan,
            r_lo - 1 + nan, r_hi - 1 + nan, self.label,
        )  # fmt: skip

    def sufficient(self, res: DriftResult, min_n: int) -> npt.NDArray[np.bool_]:
        """Where the reference's monthly mean (``res.reference``) is at least ``min_n``; the
        month's own count may be anything, zero included."""
        return (np.nan_to_num(res.reference) >= min_n) & ~np.isnan(res.value)


# ------------------------------------------------------------------------------ SPC
class _SPCMethod(DriftMethod):
    kind = "proportion"
    has_test = False
    signed = True
    threshold_range = _SIGMA

    def _z(self, x0: FloatArray, n0: FloatArray, x: FloatArray, n: FloatArray):  # type: ignore[no-untyped-def]
        x0b, n0b = np.broadcast_to(x0, x.shape), np.broadcast_to(n0, n.shape).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            p0 = np.where(n0b > 0, x0b / n0b, np.nan)
            cur = np.where(n > 0, x / n, np.nan)
        return _spc.standardized_deviation(x, n, p0), p0, cur, n0b


class PChart(_SPCMethod):
    """p-chart: ``value`` is the month's standardized deviation z; a signal is ``|z| > L``.

    Montgomery (2013), section 7.2: 3-sigma limits from the reference proportion with each
    month's own n (``ci_low``/``ci_high`` hold the limits on the proportion scale).
    """

    key = "p_chart"
    threshold_param = "L"
    label = "p-chart, 3-sigma limits from the reference proportion (Montgomery 2013, 7.2)"

    def __init__(self, *, L: float = 3.0, alpha: float = 0.05) -> None:
        self.L = L
        # the rule's own L (its threshold), not always 3
        self.label = (
            f"p-chart, {L:g}-sigma limits from the reference proportion (Montgomery 2013, 7.2)"
        )

    def compute(self, x0: FloatArray, n0: FloatArray, x: FloatArray, n: FloatArray) -> DriftResult:
        z, p0, cur, n0b = self._z(x0, n0, x, n)
        _, lcl, ucl = _spc.p_chart_limits(p0, n, L=self.L)
        nan = _nan_like(z)
        return DriftResult(
            z, cur, p0, n, n0b, nan, lcl, ucl, self.label, z > self.L, z < -self.L
        )  # fmt: skip


class Cusum(_SPCMethod):
    """Tabular CUSUM of standardized monthly deviations (Montgomery 2013, 9.1; k=0.5, h=4).

    ``value`` is ``C+ - C-`` at the month (the side that is accumulating); a signal is
    ``C+ > h`` (upward) or ``C- > h`` (downward).
    """

    key = "cusum"
    threshold_param = "h"
    cumulative = True
    params = {"k": ValueRange(0.0, why="the reference value, half the shift in sigma to detect")}
    label = "tabular CUSUM on standardized monthly deviations, k = 0.5, h = 4 (Montgomery 2013)"

    def __init__(
        self, *, k: float = _spc.CUSUM_K, h: float = _spc.CUSUM_H, alpha: float = 0.05
    ) -> None:
        self.k, self.h = k, h
        # the rule's own k and h (its threshold), not always the defaults
        self.label = (
            f"tabular CUSUM on standardized monthly deviations, k = {k:g}, h = {h:g} "
            "(Montgomery 2013)"
        )

    def compute(self, x0: FloatArray, n0: FloatArray, x: FloatArray, n: FloatArray) -> DriftResult:
        z, p0, cur, n0b = self._z(x0, n0, x, n)
        cp, cm = _spc.cusum(z, k=self.k, h=self.h)
        nan = _nan_like(z)
        return DriftResult(
            cp - cm, cur, p0, n, n0b, nan, nan, nan, self.label, cp > self.h, cm > self.h
        )


class Ewma(_SPCMethod):
    """EWMA of standardized monthly deviations, exact time-varying limits (lambda=0.2, L=3).

    ``value`` is the EWMA divided by its own standard deviation at that month, so the rule's
    threshold is L; a signal is ``|w_t| > limit_t`` (Montgomery 2013, 9.2).
    """

    key = "ewma"
    threshold_param = "L"
    cumulative = True
    params = {"lam": ValueRange(0.0, 1.0, low_open=True, why="the EWMA's weight of a new month")}
    label = "EWMA on standardized monthly deviations, lambda = 0.2, L = 3, exact limits (Montgomery 2013)"

    def __init__(
        self, *, lam: float = _spc.EWMA_LAMBDA, L: float = _spc.EWMA_L, alpha: float = 0.05
    ) -> None:
        self.lam, self.L = lam, L
        # the rule's own lambda and L (its threshold), not always the defaults
        self.label = (
            f"EWMA on standardized monthly deviations, lambda = {lam:g}, L = {L:g}, exact limits "
            "(Montgomery 2013)"
        )

    def compute(self, x0: FloatArray, n0: FloatArray, x: FloatArray, n: FloatArray) -> DriftResult:
        z, p0, cur, n0b = self._z(x0, n0, x, n)
        w, limit = _spc.ewma(z, lam=self.lam, L=self.L)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = w / (limit / self.L)
        nan = _nan_like(z)
        return DriftResult(
            scaled, cur, p0, n, n0b, nan, -limit, limit, self.label, w > limit, w < -limit
        )  # fmt: skip


METHODS: dict[str, type[DriftMethod]] = {
    cls.key: cls
    for cls in (
        Chi2, JensenShannon, NewCategory, PSI, KS, Wasserstein, TwoProportion, PoissonVolume,
        PChart, Cusum, Ewma,
    )
}  # fmt: skip


def get_method(key: str, **params: Any) -> DriftMethod:
    """The drift method registered under ``key``, built with ``params``.

    Examples
    --------
    >>> get_method("psi").kind
    'score'
    """
    try:
        cls = METHODS[key]
    except (KeyError, TypeError):
        raise InputError(
            f"unknown drift method {key!r}; valid keys: {', '.join(sorted(METHODS))}"
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"drift method {key!r}: bad parameters {params!r} ({exc})") from None
