"""Multi-reader multi-case (MRMC) ROC analysis: Obuchowski-Rockette with Hillis' df.

Reproduces the three analyses of the Iowa OR-DBM MRMC 2.51 program (trapezoidal/Wilcoxon AUC,
jackknife covariances), as RJafroc's ``StSignificanceTesting(method="OR")`` does:

1. random readers, random cases (RRRC): ``F = MS(T) / [MS(T*R) + r max(Cov2 - Cov3, 0)]`` with
   Hillis (2007) denominator df ``ddf_H = den^2 / (MS(T*R)^2 / ((t-1)(r-1)))``;
2. fixed readers, random cases (FRRC): ``X2 = (t-1) MS(T) / [Var - Cov1 + (r-1) max(Cov2 - Cov3,
   0)]`` on t-1 df;
3. random readers, fixed cases (RRFC): ``F = MS(T) / MS(T*R)`` on (t-1, (t-1)(r-1)) df.

Sources: Obuchowski & Rockette (1995), Commun Stat Simul Comput 24:285-308; Hillis et al.
(2005), Stat Med 24:1579-1607; Hillis (2007), Stat Med 26:596-619; Hillis, Berbaum & Metz
(2008), Acad Radiol 15:647-661.

The jackknife needs no loop over cases: leaving out positive ``i`` gives
``AUC_(-i) = (m n AUC - n V10_i) / ((m-1) n)`` and leaving out negative ``j`` gives
``AUC_(-j) = (m n AUC - m V01_j) / (m (n-1))``, with the placement values of ``_roc.py``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from metrics._lazy import lazy_function, lazy_module
from metrics._types import Estimate
from radqa.errors import InputError, InsufficientDataError

if TYPE_CHECKING:
    from scipy import stats
    from scipy.stats import rankdata
else:
    stats = lazy_module("scipy.stats")
    rankdata = lazy_function("scipy.stats", "rankdata")


@dataclass(frozen=True)
class ORAnalysis:
    """One of the three OR analyses: global test, pairwise differences, per-treatment AUCs.

    Attributes
    ----------
    statistic : float
        F (random readers) or chi-square (fixed readers).
    df : tuple of float
        (numerator, denominator) for F; (df,) for chi-square.
    p_value : float
    differences : dict
        ``(treatment_a, treatment_b) -> Estimate`` of AUC(a) - AUC(b), every pair in the
        treatments' sorted order (Iowa's "1 - 2").
    treatment_aucs : dict
        ``treatment -> Estimate``: reader-averaged AUC with the single-treatment interval.
    method : str
    """

    statistic: float
    df: tuple[float, ...]
    p_value: float
    differences: dict[tuple[object, object], Estimate]
    treatment_aucs: dict[object, Estimate]
    method: str


@dataclass(frozen=True)
class ORVarianceComponents:
    """OR variance components and jackknife error covariances (Hillis et al. 2005)."""

    var_r: float
    var_tr: float
    cov1: float
    cov2: float
    cov3: float
    var_error: float


@dataclass(frozen=True)
class MRMCResult:
    """Obuchowski-Rockette analysis of a fully crossed MRMC ROC study.

    The top-level ``f_statistic``, ``df_denominator``, ``p_value``, ``difference`` and
    ``treatment_aucs`` are those of the random-readers random-cases analysis (``random``);
    ``fixed_readers`` and ``fixed_cases`` hold the other two.
    """

    random: ORAnalysis
    fixed_readers: ORAnalysis
    fixed_cases: ORAnalysis
    reader_aucs: pd.DataFrame = field(repr=False)
    variance_components: ORVarianceComponents
    mean_squares: dict[str, float]
    n_cases: tuple[int, int]
    contrast: tuple[object, object] | None = None

    @property
    def f_statistic(self) -> float:
        return self.random.statistic

    @property
    def df_numerator(self) -> float:
        return self.random.df[0]

    @property
    def df_denominator(self) -> float:
        return self.random.df[1]

    @property
    def p_value(self) -> float:
        return self.random.p_value

    @property
    def treatment_aucs(self) -> dict[object, Estimate]:
        return self.random.treatment_aucs

    @property
    def difference(self) -> Estimate:
        """AUC(first) - AUC(second) under random readers and cases (two treatments or contrast)."""
        return _pick(self.random.differences, self.contrast)


def _pick(
    differences: dict[tuple[object, object], Estimate], contrast: tuple[object, object] | None
) -> Estimate:
    if contrast is not None:
        return differences[contrast]
    if len(differences) == 1:
        return next(iter(differences.values()))
    raise InputError(
        f"the study has more than 2 treatments, so 'difference' is ambiguous; pass "
        f"contrast=(a, b) to mrmc() or read result.random.differences (pairs: {list(differences)})"
    )


# --------------------------------------------------------------------------- input
def _py(value: object) -> object:
    """A numpy scalar as the plain Python value, so messages and keys read 3, not np.int64(3)."""
    return value.item() if isinstance(value, np.generic) else value


def _crossed_ratings(
    frame: pd.DataFrame, cols: dict[str, str]
) -> tuple[np.ndarray, np.ndarray, list[object], list[object]]:
    """ratings[t, r, k] for a fully crossed design, truth[k], treatment and reader labels."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"frame must be a pandas DataFrame; found {type(frame).__name__}")
    missing = [c for c in cols.values() if c not in frame.columns]
    if missing:
        raise InputError(
            f"frame is missing column(s) {missing}; columns present: {list(frame.columns)}"
        )
    data = frame[list(cols.values())].set_axis(list(cols), axis=1)
    for name in ("treatment", "reader", "case", "truth", "rating"):
        na = data[name].isna()
        if na.any():
            raise InputError(
                f"column '{cols[name]}' has {int(na.sum())} missing value(s), first in row "
                f"{data.index[na.to_numpy()][0]}; expected a value in every row"
            )
    rating = pd.to_numeric(data["rating"], errors="coerce")
    if rating.isna().any():
        bad = _py(data["rating"][rating.isna()].iloc[0])
        raise InputError(f"column '{cols['rating']}' must hold numbers; found {bad!r}")
    truth_num = pd.to_numeric(data["truth"], errors="coerce")
    if not truth_num.isin([0, 1]).all():
        bad = sorted({str(v) for v in data["truth"][~truth_num.isin([0, 1])]})[:5]
        raise InputError(f"column '{cols['truth']}' must hold 0/1; found values such as {bad}")
    dup = data.duplicated(["treatment", "reader", "case"])
    if dup.any():
        row = data[dup].iloc[0]
        raise InputError(
            f"{int(dup.sum())} duplicate rating(s): treatment {_py(row['treatment'])!r}, reader "
            f"{_py(row['reader'])!r}, case {_py(row['case'])!r} is rated more than once"
        )
    per_case = truth_num.groupby(data["case"]).nunique()
    if (per_case > 1).any():
        raise InputError(
            f"case {_py(per_case.index[per_case > 1][0])!r} has both truth 0 and truth 1; "
            "the truth of a case must be the same for every reader and treatment"
        )
    t_codes, t_index = pd.factorize(data["treatment"], sort=True)
    r_codes, r_index = pd.factorize(data["reader"], sort=True)
    k_codes, cases = pd.factorize(data["case"], sort=True)
    treatments, readers = [_py(v) for v in t_index], [_py(v) for v in r_index]
    T, R, K = len(treatments), len(readers), len(cases)
    counts = np.bincount(t_codes * R + r_codes, minlength=T * R).reshape(T, R)
    if (counts != K).any():
        t, r = np.argwhere(counts != K)[0]
        raise InputError(
            f"the design is not fully crossed: reader {readers[r]!r} under treatment "
            f"{treatments[t]!r} rated {counts[t, r]} of the {K} cases; Obuchowski-Rockette "
            "needs every reader to rate every case under every treatment"
        )
    if T < 2 or R < 2:
        raise InsufficientDataError(
            f"MRMC analysis needs at least 2 treatments and 2 readers; found {T} treatment(s) "
            f"and {R} reader(s)"
        )
    ratings = np.empty((T, R, K))
    ratings[t_codes, r_codes, k_codes] = rating.to_numpy(dtype=float)
    truth = np.zeros(K, dtype=bool)
    truth[k_codes] = truth_num.to_numpy() == 1
    if truth.all() or not truth.any():
        raise InsufficientDataError(
            f"all {K} cases have truth {int(truth[0])}; the AUC needs both diseased (1) and "
            "non-diseased (0) cases"
        )
    return ratings, truth, treatments, readers


# ------------------------------------------------------------------------- numbers
def _aucs_and_jackknife(ratings: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC[t, r] and jackknife AUC[t, r, k] (case k left out), vectorised over all axes."""
    pos, neg = ratings[..., truth], ratings[..., ~truth]
    m, n = pos.shape[-1], neg.shape[-1]
    combined = rankdata(np.concatenate([pos, neg], axis=-1), axis=-1)
    v10 = (combined[..., :m] - rankdata(pos, axis=-1)) / n
    v01 = 1.0 - (combined[..., m:] - rankdata(neg, axis=-1)) / m
    auc = v10.mean(axis=-1)
    total = (m * n * auc)[..., None]
    jack = np.empty(ratings.shape)
    jack[..., truth] = (total - n * v10) / ((m - 1) * n) if m > 1 else np.nan
    jack[..., ~truth] = (total - m * v01) / (m * (n - 1)) if n > 1 else np.nan
    return auc, jack


def _covariances(jack: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jackknife covariance matrix [t, r, t', r'] with Efron-Stein factor (K-1)^2/K.

    With fewer than 2 cases (a subgroup of one case) there is no covariance: NaN, which makes
    every OR variance and interval NaN, reported as not estimable (``_or_fields``).
    """
    T, R, K = jack.shape
    flat = jack.reshape(T * R, K)
    # one case: np.cov would warn "Degrees of freedom <= 0" and give the same NaN
    cov = np.full((T * R, T * R), np.nan) if K < 2 else np.cov(flat, ddof=1) * (K - 1) ** 2 / K
    cov = cov.reshape(T, R, T, R)
    same_t = np.eye(T, dtype=bool)[:, None, :, None]
    same_r = np.eye(R, dtype=bool)[None, :, None, :]
    return cov, same_t, same_r


def _mean_where(values: np.ndarray, mask: np.ndarray) -> float:
    mask = np.broadcast_to(mask, values.shape)
    return float(values[mask].mean()) if mask.any() else 0.0


def _ratio(num: float, den: float) -> float:
    """num / den, with inf (num > 0) or nan (num = 0) for a zero denominator, as numpy gives."""
    if den == 0:
        return math.inf if num > 0 else math.nan
    return num / den


def _t_interval(value: float, se: float, df: float, alpha: float, method: str) -> Estimate:
    half = float(stats.t.ppf(1.0 - alpha / 2.0, df)) * se
    return Estimate(float(value), float(value - half), float(value + half), float(se), method)


def _z_interval(value: float, se: float, alpha: float, method: str) -> Estimate:
    half = float(stats.norm.ppf(1.0 - alpha / 2.0)) * se
    return Estimate(float(value), float(value - half), float(value + half), float(se), method)


def mrmc(
    frame: pd.DataFrame,
    *,
    treatment: str = "treatment",
    reader: str = "reader",
    case: str = "case",
    truth: str = "truth",
    rating: str = "rating",
    alpha: float = 0.05,
    contrast: tuple[object, object] | None = None,
) -> MRMCResult:
    """Obuchowski-Rockette MRMC analysis of empirical AUCs (Iowa OR-DBM MRMC 2.51 output).

    Parameters
    ----------
    frame : DataFrame
        Long format, one row per treatment x reader x case, fully crossed.
    treatment, reader, case, truth, rating : str
        Column names. ``truth`` is 0/1 per case; higher ``rating`` = more likely diseased.
    alpha : float
        1 - confidence level.
    contrast : (treatment_a, treatment_b), optional
        Which difference ``result.difference`` reports when there are more than 2 treatments.

    Returns
    -------
    MRMCResult

    Notes
    -----
    Obuchowski & Rockette (1995); Hillis (2007) denominator degrees of freedom; jackknife
    covariances with the factor (K-1)^2/K (Hillis et al. 2005).
    """
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be between 0 and 1 (exclusive); found {alpha}")
    cols = {"treatment": treatment, "reader": reader, "case": case, "truth": truth}
    cols["rating"] = rating
    ratings, truth_k, treatments, readers = _crossed_ratings(frame, cols)
    T, R, K = ratings.shape
    if contrast is not None and not (
        len(contrast) == 2 and all(c in treatments for c in contrast) and contrast[0] != contrast[1]
    ):
        raise InputError(f"contrast must name two treatments of {treatments}; found {contrast!r}")

    auc, jack = _aucs_and_jackknife(ratings, truth_k)
    return or_analysis(
        auc,
        jack,
        treatments,
        readers,
        alpha=alpha,
        n_cases=(int((~truth_k).sum()), int(truth_k.sum())),
        contrast=contrast,
        reader=reader,
        treatment=treatment,
    )


def or_analysis(
    fom: np.ndarray,
    jack: np.ndarray,
    treatments: list[object],
    readers: list[object],
    *,
    alpha: float = 0.05,
    n_cases: tuple[int, int] = (0, 0),
    contrast: tuple[object, object] | None = None,
    reader: str = "reader",
    treatment: str = "treatment",
) -> MRMCResult:
    """Obuchowski-Rockette analysis of any figure of merit from its case jackknife.

    Parameters
    ----------
    fom : array [T, R]
        The figure of merit of each treatment x reader (the AUC in :func:`mrmc`; a
        sensitivity, specificity, accuracy or kappa of the reader's 0/1 calls elsewhere).
    jack : array [T, R, K]
        The figure of merit with case k left out.
    treatments, readers : list
        Labels of the first two axes.

    Notes
    -----
    The OR model does not depend on the figure of merit: Obuchowski & Rockette (1995) state it
    for any accuracy index whose error covariances are estimated over cases; the Iowa program
    and RJafroc (``FOM = "HrSe"`` / ``"HrSp"``) run it on sensitivity and specificity with the
    same jackknife over all cases that is used here.
    """
    T, R = fom.shape
    auc = fom
    cov, same_t, same_r = _covariances(jack)
    var = _mean_where(cov, same_t & same_r)
    cov1 = _mean_where(cov, ~same_t & same_r)
    cov2 = _mean_where(cov, same_t & ~same_r)
    cov3 = _mean_where(cov, ~same_t & ~same_r)

    trt_mean, rdr_mean, grand = auc.mean(axis=1), auc.mean(axis=0), float(auc.mean())
    ms_t = float(R * ((trt_mean - grand) ** 2).sum() / (T - 1))
    ms_r = float(T * ((rdr_mean - grand) ** 2).sum() / (R - 1))
    inter = auc - trt_mean[:, None] - rdr_mean[None, :] + grand
    ms_tr = float((inter**2).sum() / ((T - 1) * (R - 1)))
    var_tr = ms_tr - var + cov1 + cov2 - cov3
    var_r = (ms_r - var_tr - var - (T - 1) * cov1 + cov2 + (T - 1) * cov3) / T
    components = ORVarianceComponents(float(var_r), float(var_tr), cov1, cov2, cov3, var)

    # per-treatment pieces: reader mean square, Var and Cov2 from that treatment's data only
    ms_r_i = ((auc - trt_mean[:, None]) ** 2).sum(axis=1) / (R - 1)
    diag_t = cov[np.arange(T), :, np.arange(T), :]  # [t, r, r']
    off = ~np.eye(R, dtype=bool)
    var_i = np.array([np.diag(d).mean() for d in diag_t])
    cov2_i = np.array([d[off].mean() for d in diag_t])
    pairs = list(itertools.combinations(range(T), 2))
    diffs = {(treatments[a], treatments[b]): float(trt_mean[a] - trt_mean[b]) for a, b in pairs}

    # 1. random readers, random cases
    den = ms_tr + R * max(cov2 - cov3, 0.0)
    ddf = den**2 / (ms_tr**2 / ((T - 1) * (R - 1))) if ms_tr > 0 else math.inf
    f_rrrc = _ratio(ms_t, den)
    method = "Obuchowski-Rockette (1995), Hillis (2007) df, random readers and cases"
    se = math.sqrt(2.0 * den / R)
    rrrc_single = {}
    for i, trt in enumerate(treatments):
        den_i = ms_r_i[i] + R * max(cov2_i[i], 0.0)
        df_i = den_i**2 / ms_r_i[i] ** 2 * (R - 1) if ms_r_i[i] > 0 else math.inf
        rrrc_single[trt] = _t_interval(trt_mean[i], math.sqrt(den_i / R), df_i, alpha, method)
    random = ORAnalysis(
        float(f_rrrc),
        (float(T - 1), float(ddf)),
        float(stats.f.sf(f_rrrc, T - 1, ddf)),
        {k: _t_interval(v, se, ddf, alpha, method) for k, v in diffs.items()},
        rrrc_single,
        method,
    )

    # 2. fixed readers, random cases
    den_fr = var - cov1 + (R - 1) * max(cov2 - cov3, 0.0)
    chi2 = _ratio((T - 1) * ms_t, den_fr)
    method = "Obuchowski-Rockette (1995), fixed readers, random cases (normal)"
    se_fr = math.sqrt(2.0 * den_fr / R)
    fixed_readers = ORAnalysis(
        float(chi2),
        (float(T - 1),),
        float(stats.chi2.sf(chi2, T - 1)),
        {k: _z_interval(v, se_fr, alpha, method) for k, v in diffs.items()},
        {
            trt: _z_interval(
                trt_mean[i],
                math.sqrt((var_i[i] + (R - 1) * max(cov2_i[i], 0.0)) / R),
                alpha,
                method,
            )
            for i, trt in enumerate(treatments)
        },
        method,
    )

    # 3. random readers, fixed cases: conventional treatment x reader ANOVA of the AUCs
    df_tr = (T - 1) * (R - 1)
    f_rrfc = _ratio(ms_t, ms_tr)
    method = "Obuchowski-Rockette (1995), random readers, fixed cases"
    se_fc = math.sqrt(2.0 * ms_tr / R)
    fixed_cases = ORAnalysis(
        float(f_rrfc),
        (float(T - 1), float(df_tr)),
        float(stats.f.sf(f_rrfc, T - 1, df_tr)),
        {k: _t_interval(v, se_fc, df_tr, alpha, method) for k, v in diffs.items()},
        {
            trt: _t_interval(trt_mean[i], math.sqrt(ms_r_i[i] / R), R - 1, alpha, method)
            for i, trt in enumerate(treatments)
        },
        method,
    )

    reader_aucs = pd.DataFrame(
        auc.T,
        index=pd.Index(readers, name=reader),
        columns=pd.Index(treatments, name=treatment),
    )
    return MRMCResult(
        random=random,
        fixed_readers=fixed_readers,
        fixed_cases=fixed_cases,
        reader_aucs=reader_aucs,
        variance_components=components,
        mean_squares={"T": float(ms_t), "R": float(ms_r), "TR": float(ms_tr)},
        n_cases=n_cases,
        contrast=(contrast[0], contrast[1]) if contrast is not None else None,
    )
