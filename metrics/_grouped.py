"""Grouped performance summaries straight from the store.

One DuckDB query (``metrics/sql/summary.sql``) reduces the predictions, joined to their studies
and to the reference standard (the ``reference_standard`` table the store keeps; rule in ``radqa/sql/reference_standard.sql``), to sufficient statistics
per group: confusion counts, pending cases and the sorted scores of the reference-positive and
reference-negative cases. The AUC with DeLong's variance and every interval are then computed
for all groups at once with numpy array operations; no Python loop runs over groups or rows.

Measured on a 2-core machine with 10 million predictions (1.7 million studies, 5 million
reads) and 3,000 groups (site x scanner model x modality x month): 4.2-5.4 s (other work on
the machine makes the difference) and 1.7-1.8 GB peak memory for the whole summary in a fresh
process, 1-2 ms for a repeat from the snapshot cache.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from metrics._cache import cached, snapshot_id
from metrics._filters import (
    ALL_KEY,
    FLAT_TABLE,
    GROUP_COLUMNS,
    CasesQuery,
    Filters,
    cases_query,
    cases_source,
    check_by,
    check_period,
    sql_text,
    where_clause,
)
from metrics._lazy import lazy_module
from metrics._proportions import check_alpha, proportion_ci_arrays
from metrics._score_counts import few_groups, score_counts_summary
from metrics._store_health import open_quarantine_sql
from metrics._types import ZERO_SE
from radqa.derived import CASES_CATALOG, has_cases
from radqa.errors import InputError

if TYPE_CHECKING:
    from scipy import stats
else:
    stats = lazy_module("scipy.stats")

DEFAULT_MIN_N = 30

#: Proportions reported by :func:`summarize`: name -> (numerator, denominator) count columns.
PROPORTIONS: dict[str, tuple[str, str]] = {
    "prevalence": ("n_pos", "n_labelled"),
    "sensitivity": ("tp", "n_pos"),
    "specificity": ("tn", "n_neg"),
    "ppv": ("tp", "n_pred_pos"),
    "npv": ("tn", "n_pred_neg"),
    "accuracy": ("n_agree", "n_labelled"),
}

#: Fewest cases of the class an estimate is computed on (``min_class`` of :func:`summarize`).
#: Below 5 reference-positive cases a sensitivity is a handful of coin flips: the Wilson
#: interval of 4/4 is 0.51-1.00 and of 1/1 0.21-1.00, and DeLong's variance of an AUC needs
#: two or more cases per class to exist at all and several for its normal approximation.
#: Five per class is the smallest count at which the figures say something; the interval then
#: carries the rest of the uncertainty.
MIN_PER_CLASS = 5
METHODS = {
    "proportions": "Wilson score (1927), statsmodels proportion_confint",
    "auc": "empirical AUC, DeLong (1988) variance, Wald interval clipped to [0, 1]",
    "kappa": "Cohen (1960) kappa, AI vs reference, Gwet (2014) SE, t(n-1) interval",
    "agreement": "percent agreement AI vs reference, Gwet (2014) SE, t(n-1) interval (Wilson "
    "at 0% or 100%)",
    "reference": "adjudication > consensus > majority > primary read (clinical reads only)",
}


def _minimum_method(min_n: int, min_class: int) -> str:
    return (
        f"estimates need {min_n} labelled cases; sensitivity also {min_class} "
        f"reference-positive cases, specificity {min_class} reference-negative, AUC and kappa "
        f"{min_class} of each; an estimate whose standard error is 0 (all cases agree) is shown "
        "as not estimable, never with a zero-width interval"
    )


_ESTIMATES = [*PROPORTIONS, "auc", "kappa", "agreement"]
#: estimate -> which missing reference class makes it undefined ("pos", "neg" or "both")
_NEEDS_CLASS = {"sensitivity": "pos", "specificity": "neg", "auc": "both", "kappa": "both"}

#: estimate -> (description, count column) of the classes it needs ``min_class`` cases of
_CLASS_COUNTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sensitivity": (("reference-positive", "n_pos"),),
    "specificity": (("reference-negative", "n_neg"),),
    "auc": (("reference-positive", "n_pos"), ("reference-negative", "n_neg")),
    "kappa": (("reference-positive", "n_pos"), ("reference-negative", "n_neg")),
}
#: Why an estimate with a standard error of 0 is not estimable.
_ZERO_SE = {
    "auc": "DeLong variance is 0 (the scores separate the classes completely); no interval "
    "can be given, not estimable",
    "kappa": "Gwet variance is 0 (the AI calls one category only, or agrees perfectly); no "
    "interval can be given, not estimable",
}


def _check_min_n(min_n: int, name: str = "min_n") -> int:
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 1:
        raise InputError(f"{name} is {min_n!r}; expected a whole number >= 1")
    return int(min_n)


def summary_sql(
    by: tuple[str, ...], period: str | None, filters: Filters | None, *, flat: bool = False
) -> tuple[str, CasesQuery]:
    """The summary query text (``metrics/sql/summary.sql`` filled in) and its cases query;
    ``flat`` reads the per-snapshot cases table (:mod:`radqa.derived`)."""
    cases = cases_query(by, period, filters, flat=flat)
    sql = sql_text("summary").format(
        cases=cases.ctes, labels=cases.labels(), keys=", ".join(cases.keys)
    )
    return sql, cases


def summarize(
    con: duckdb.DuckDBPyConnection,
    *,
    by: tuple[str, ...] | list[str] = ("finding", "model_name"),
    filters: Filters | None = None,
    period: str | None = None,
    alpha: float = 0.05,
    min_n: int = DEFAULT_MIN_N,
    min_class: int = MIN_PER_CLASS,
) -> pd.DataFrame:
    """Diagnostic performance of the AI against the reference standard, one row per group.

    Parameters
    ----------
    con : DuckDB connection to a store (a published snapshot is cached per snapshot id).
    by : names from :data:`metrics._filters.GROUP_COLUMNS`
        ``()`` gives one overall row. Predictions of several models / findings in one group
        are pooled, so group by ``finding`` and ``model_name`` unless one is filtered.
        ``arm``: the trial arms in which the study was read (reads with ``arm <> ''``); a
        prediction whose study was read in two arms counts in both groups, one read in no arm
        is in group ``''``. The reference standard itself always uses clinical reads only.
    filters : Filters, optional
    period : {"month", "quarter", "week"}, optional
        Adds a ``period`` column: 'YYYY-MM', 'YYYY-Qn' or the ISO week 'YYYY-Www' of the
        study date.
    alpha : float
        1 - confidence level.
    min_n : int
        Fewer labelled cases than this marks the group ``insufficient`` and leaves every
        estimate NaN (the counts stay).
    min_class : int
        Fewest cases of the class an estimate rests on (default :data:`MIN_PER_CLASS` = 5):
        sensitivity needs that many reference-positive cases, specificity reference-negative
        ones, AUC and kappa both. Below it the estimate is NaN and ``not_estimable`` says why;
        the group is not flagged ``insufficient`` for it (its other estimates stand).

    Returns
    -------
    DataFrame
        Group columns, ``n`` (predictions), ``pending`` (no reference yet), ``n_labelled``,
        ``tp fp fn tn``; ``prevalence sensitivity specificity ppv npv accuracy`` each with
        ``_low``/``_high`` (Wilson); ``auc auc_low auc_high auc_se`` (DeLong 1988);
        ``kappa kappa_low kappa_high kappa_se`` (Cohen 1960, AI vs reference, Gwet 2014 SE);
        ``agreement agreement_low agreement_high`` (percent agreement AI vs reference: the same
        value as accuracy, with the interval :func:`metrics.percent_agreement_table` gives);
        ``insufficient`` and ``insufficient_reason``. A group without reference-positive (or
        -negative) cases has NaN sensitivity (specificity), AUC and kappa. ``not_estimable``
        names each estimate left NaN for too few cases of its class (``min_class``) or a
        standard error of 0 (an AUC at complete separation, a kappa of an AI that calls one
        category only): such an estimate is not shown with a zero-width interval; the reasons
        are also appended to ``insufficient_reason``. ``attrs`` holds ``methods``, ``alpha``,
        ``min_n``, ``min_class`` and ``snapshot_id``.

    Notes
    -----
    AUC and DeLong variance come from the placement values of :func:`placement_auc`
    (DeLong, DeLong & Clarke-Pearson 1988, Biometrics 44:837-845); they equal
    :func:`metrics.roc_auc` on the same cases. Wilson (1927) intervals from statsmodels;
    Cohen (1960) kappa with Gwet's (2014) standard error, as :func:`metrics.cohen_kappa_table`.

    Examples
    --------
    >>> from radqa.store import memory_store
    >>> con = memory_store()
    >>> _ = con.execute("insert into studies (study_uid, site) values ('s1', 'A'), ('s2', 'A')")
    >>> _ = con.execute(
    ...     "insert into predictions values ('s1', 'ich', 'm', '1', 0.9, true, 0.5, 'file', "
    ...     "null, 0, 1), ('s2', 'ich', 'm', '1', 0.2, false, 0.5, 'file', null, 0, 1)")
    >>> _ = con.execute(
    ...     "insert into reads (study_uid, finding, reader_pid, read_role, arm, label, "
    ...     "read_datetime, row_hash, batch_id) values "
    ...     "('s1', 'ich', 'r', 'primary', '', 1, now(), 0, 2)")
    >>> from radqa.store import refresh_reference
    >>> refresh_reference(con)  # as ingest does after loading reads
    >>> row = summarize(con, by=("site",), min_n=1, min_class=1).iloc[0]
    >>> int(row.n), int(row.pending), int(row.tp), row.insufficient_reason
    (2, 1, 1, 'no reference-negative case')
    """
    by = check_by(by, GROUP_COLUMNS)
    period = check_period(period)
    alpha = check_alpha(alpha)
    min_n = _check_min_n(min_n)
    min_class = _check_min_n(min_class, "min_class")
    if filters is not None and not isinstance(filters, Filters):
        raise InputError(f"filters must be a metrics.Filters; found {type(filters).__name__}")
    return _summarize(con, by, filters, period, alpha, min_n, min_class)


@cached
def _summarize(
    con: duckdb.DuckDBPyConnection,
    by: tuple[str, ...],
    filters: Filters | None,
    period: str | None,
    alpha: float,
    min_n: int,
    min_class: int = MIN_PER_CLASS,
) -> pd.DataFrame:
    raw = summary_counts(con, by=by, filters=filters, period=period)
    keys = [k for k in raw.columns if k in by or k == "period"]
    out = estimates_from_counts(raw, keys=keys, alpha=alpha, min_n=min_n, min_class=min_class)
    out.attrs.update(
        methods=dict(METHODS) | {"minimum": _minimum_method(min_n, min_class)},
        alpha=alpha, min_n=min_n, min_class=min_class,
        snapshot_id=snapshot_id(con),
    )  # fmt: skip
    return out


def summary_counts(
    con: duckdb.DuckDBPyConnection,
    *,
    by: tuple[str, ...],
    filters: Filters | None,
    period: str | None,
) -> pd.DataFrame:
    """Per-group sufficient statistics: counts, AUC and the placement-value variances ``s10``
    and ``s01`` (see :func:`placement_auc`)."""
    flat = has_cases(con)
    if flat and few_groups(
        con, by, period, filters
    ):  # never for "arm", which the cases table lacks
        cases = cases_query(by, period, filters, flat=True)
        return score_counts_summary(con, cases).drop(columns=[ALL_KEY], errors="ignore")
    sql, cases = summary_sql(by, period, filters, flat=flat)
    table = con.sql(sql, params=cases.params or None).to_arrow_table()
    pos = table.column("pos_scores").combine_chunks()
    neg = table.column("neg_scores").combine_chunks()
    auc, s10, s01 = placement_auc(
        pc.list_value_length(pos).fill_null(0).to_numpy(),
        pos.flatten().to_numpy(),
        pc.list_value_length(neg).fill_null(0).to_numpy(),
        neg.flatten().to_numpy(),
    )
    groups = table.drop_columns(["pos_scores", "neg_scores"]).to_pandas()
    groups["auc"], groups["s10"], groups["s01"] = auc, s10, s01
    return groups.drop(columns=[ALL_KEY], errors="ignore")


def placement_auc(
    n_pos: np.ndarray, pos: np.ndarray, n_neg: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical AUC and DeLong's placement-value variances for many groups at once.

    Parameters
    ----------
    n_pos, n_neg : int arrays, one element per group
        Numbers of positive and negative cases.
    pos, neg : float arrays
        The scores of the positives (negatives), group after group; ascending within a group
        is fastest (``list(score order by score)``), any order works.

    Returns
    -------
    auc, s10, s01 : float arrays, one element per group
        ``s10`` and ``s01`` are the sample variances (ddof 1) of the placement values of the
        positives and of the negatives, so ``var(AUC) = s10 / n_pos + s01 / n_neg`` (DeLong,
        DeLong & Clarke-Pearson 1988, Biometrics 44:837-845). NaN where the AUC is undefined
        (a class is absent) or a class has a single case.

    Notes
    -----
    For a positive at score x, ``V10 = (#negatives below x + 0.5 #negatives at x) / n_neg``;
    for a negative at y, ``V01 = (#positives above y + 0.5 #positives at y) / n_pos``. The
    counts come from binary searches over the keys ``group + 1j * score``: numpy orders complex
    numbers by real part, then imaginary part, so the keys sort group by group and compare
    scores exactly. The AUC is the exact ratio ``sum(2 #below + #tied) / (2 n_pos n_neg)``.

    Examples
    --------
    >>> auc, s10, s01 = placement_auc([2], [0.8, 0.4], [2], [0.1, 0.4])
    >>> float(auc[0])  # (1 + 1 + 1 + 0.5) / 4 pairs
    0.875
    """
    n_pos, n_neg = np.asarray(n_pos, dtype=np.int64), np.asarray(n_neg, dtype=np.int64)
    g_pos, key_pos = _keys(n_pos, pos)
    g_neg, key_neg = _keys(n_neg, neg)
    # Where each positive falls among the negatives: before it lie the negatives of earlier
    # groups and those below it; between "left" and "right" lie the tied ones. numpy releases
    # the GIL in searchsorted, so the two searches run side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        lo, hi = pool.map(lambda side: np.searchsorted(key_neg, key_pos, side), ("left", "right"))
    start_neg = np.cumsum(n_neg) - n_neg
    twice_v10 = 2 * (lo - start_neg[g_pos]) + (hi - lo)
    size = n_pos.size
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.bincount(g_pos, weights=twice_v10, minlength=size) / (2.0 * n_pos * n_neg)
        dev10 = twice_v10 / (2.0 * n_neg[g_pos]) - auc[g_pos]
        s10 = np.bincount(g_pos, weights=dev10**2, minlength=size) / (n_pos - 1)
        dev01 = _dev01(lo, hi, g_neg, n_pos, auc)
        s01 = np.bincount(g_neg, weights=dev01, minlength=size) / (n_neg - 1)
    both = (n_pos > 0) & (n_neg > 0)
    return (
        np.where(both, auc, np.nan),
        np.where(both & (n_pos > 1), s10, np.nan),
        np.where(both & (n_neg > 1), s01, np.nan),
    )


def _dev01(
    lo: np.ndarray, hi: np.ndarray, g_neg: np.ndarray, n_pos: np.ndarray, auc: np.ndarray
) -> np.ndarray:
    """Squared deviations ``(V01 - AUC)^2`` of the negatives, in place (the arrays are large).

    Counted from the positives' positions: positive i lies below negative j exactly when
    ``hi[i] <= j``, and at most level with it when ``lo[i] <= j``, so the running counts of
    ``hi`` and ``lo`` give, per negative, the positives below it and up to it (positives of
    earlier groups included). ``2 n_pos V01 = 2 #above + #tied = 2 end - upto - below``, with
    ``end`` the positives up to the end of the negative's group.
    """
    size = g_neg.size + 1
    below = np.bincount(hi, minlength=size)[:-1]
    np.cumsum(below, out=below)
    upto = np.bincount(lo, minlength=size)[:-1]
    np.cumsum(upto, out=upto)
    twice = np.cumsum(n_pos)[g_neg]
    twice *= 2
    twice -= upto
    twice -= below
    del below, upto
    dev = twice.astype(float)
    del twice
    dev /= 2.0 * n_pos[g_neg]
    dev -= auc[g_neg]
    dev **= 2
    return np.asarray(dev)


def _keys(sizes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group index per score and the keys ``group + 1j * score`` in (group, score) order."""
    group = np.repeat(np.arange(sizes.size), sizes)
    keys = np.empty(group.size, dtype=complex)
    keys.real, keys.imag = group, np.asarray(scores, dtype=float)
    re, im = keys.real, keys.imag
    ordered = (re[1:] > re[:-1]) | ((re[1:] == re[:-1]) & (im[1:] >= im[:-1]))
    if not ordered.all():  # scores not ascending within groups: sort (group order is kept)
        keys = np.sort(keys)
    return group, keys


def estimates_from_counts(
    raw: pd.DataFrame, *, keys: list[str], alpha: float, min_n: int,
    min_class: int = MIN_PER_CLASS,
) -> pd.DataFrame:  # fmt: skip
    """Add every estimate and interval to per-group sufficient statistics, vectorised.

    ``raw`` has the group ``keys`` and ``n, pending, tp, fp, fn, tn, auc, s10, s01`` (the
    sample variances of the placement values).
    """
    c = {k: raw[k].to_numpy(dtype=float) for k in ("tp", "fp", "fn", "tn")}
    counts = {
        **c,
        "n_pos": c["tp"] + c["fn"],
        "n_neg": c["fp"] + c["tn"],
        "n_pred_pos": c["tp"] + c["fp"],
        "n_pred_neg": c["fn"] + c["tn"],
        "n_agree": c["tp"] + c["tn"],
    }
    n_lab = counts["n_pos"] + counts["n_neg"]
    counts["n_labelled"] = n_lab
    out = raw[keys].copy() if keys else pd.DataFrame(index=raw.index)
    out["n"] = raw["n"].astype("int64")
    out["pending"] = raw["pending"].astype("int64")
    out["n_labelled"] = n_lab.astype("int64")
    for k in ("tp", "fp", "fn", "tn"):
        out[k] = raw[k].astype("int64")
    for name, (num, den) in PROPORTIONS.items():
        value, low, high = proportion_ci_arrays(counts[num], counts[den], alpha=alpha)
        out[name], out[f"{name}_low"], out[f"{name}_high"] = value, low, high
    out = pd.concat([out, _auc_columns(raw, counts, alpha)], axis=1)
    out = pd.concat([out, _kappa_columns(counts, alpha)], axis=1)
    out = _agreement_at_bounds(out, counts, alpha)
    return _flag_insufficient(out, counts, min_n, min_class)


def _auc_columns(raw: pd.DataFrame, counts: dict[str, np.ndarray], alpha: float) -> pd.DataFrame:
    """AUC with the DeLong interval from the SQL placement-value variances."""
    m, n = counts["n_pos"], counts["n_neg"]
    both = (m > 0) & (n > 0)
    auc = np.where(both, raw["auc"].to_numpy(dtype=float, na_value=np.nan), np.nan)
    # one positive (negative): the sample variance is undefined and counts as 0, as in roc_auc
    s10 = np.nan_to_num(raw["s10"].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
    s01 = np.nan_to_num(raw["s01"].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(both, s10 / np.where(both, m, 1) + s01 / np.where(both, n, 1), np.nan)
    se = np.sqrt(np.maximum(var, 0.0))
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))
    return pd.DataFrame(
        {
            "auc": auc,
            "auc_low": np.maximum(0.0, auc - z * se),
            "auc_high": np.minimum(1.0, auc + z * se),
            "auc_se": se,
        },
        index=raw.index,
    )


def _kappa_columns(counts: dict[str, np.ndarray], alpha: float) -> pd.DataFrame:
    """Cohen's kappa of AI vs reference and percent agreement, Gwet (2014) SEs, vectorised.

    The 2x2 form of :func:`metrics.cohen_kappa_table` (irrCAC ``kappa2.table``) and of
    :func:`metrics.percent_agreement_table`, rows = AI, columns = reference.
    """
    n = counts["n_labelled"]
    safe = np.where(n > 0, n, 1.0)
    p11, p10 = counts["tp"] / safe, counts["fp"] / safe  # AI 1: reference 1, reference 0
    p01, p00 = counts["fn"] / safe, counts["tn"] / safe
    row1, row0 = p11 + p10, p01 + p00  # AI margins
    col1, col0 = p11 + p01, p10 + p00  # reference margins
    pa = p11 + p00
    pe = row1 * col1 + row0 * col0
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where((n > 0) & (pe < 1.0), (pa - pe) / (1.0 - pe), np.nan)
        one = 1.0 - kappa
        inner = (
            p11 * (1.0 - one * (col1 + row1)) ** 2
            + p00 * (1.0 - one * (col0 + row0)) ** 2
            + p10 * (one * (col1 + row0)) ** 2
            + p01 * (one * (col0 + row1)) ** 2
        )
        var_k = (inner - (pa - 2.0 * one * pe) ** 2) / (safe * (1.0 - pe) ** 2)
        t = stats.t.ppf(1.0 - alpha / 2.0, np.maximum(n - 1.0, 1.0))
        se_k = np.sqrt(np.maximum(var_k, 0.0))
        pa = np.where(n > 0, pa, np.nan)
        half_a = t * np.sqrt(np.maximum(pa * (1.0 - pa) / safe, 0.0))
    return pd.DataFrame(
        {
            "kappa": kappa,
            "kappa_low": np.maximum(-1.0, kappa - t * se_k),
            "kappa_high": np.minimum(1.0, kappa + t * se_k),
            "kappa_se": se_k,
            "agreement": pa,
            "agreement_low": np.maximum(-1.0, pa - half_a),
            "agreement_high": np.minimum(1.0, pa + half_a),
        }
    )


def _agreement_at_bounds(
    out: pd.DataFrame, counts: dict[str, np.ndarray], alpha: float
) -> pd.DataFrame:
    """Percent agreement of 0% or 100%: Gwet's (Wald) SE is 0 there, so the interval is the
    Wilson score interval of the same proportion (accuracy's), not a zero-width one."""
    pa = out["agreement"].to_numpy(dtype=float)
    edge = (counts["n_labelled"] > 0) & ((pa == 0.0) | (pa == 1.0))
    out.loc[edge, "agreement_low"] = out.loc[edge, "accuracy_low"]
    out.loc[edge, "agreement_high"] = out.loc[edge, "accuracy_high"]
    return out


def _flag_insufficient(
    out: pd.DataFrame, counts: dict[str, np.ndarray], min_n: int, min_class: int
) -> pd.DataFrame:
    """Mark groups too small or without a class, and blank what they cannot support.

    On top of ``min_n`` (labelled cases, all estimates), each estimate needs ``min_class``
    cases in the class it is computed on (:data:`_CLASS_COUNTS`), and an estimate whose
    standard error is 0 (DeLong's AUC at complete separation, kappa when the AI or the
    reference uses one category only or they agree perfectly) is not estimable: its value and
    interval are NaN, never a zero-width interval. The reasons are in ``not_estimable``.
    """
    n_lab, n_pos, n_neg = counts["n_labelled"], counts["n_pos"], counts["n_neg"]
    small, no_pos, no_neg = n_lab < min_n, n_pos == 0, n_neg == 0
    reason = np.full(len(out), "", dtype=object)
    reason = np.where(
        small,
        [f"{int(k)} labelled case(s), fewer than min_n = {min_n}" for k in n_lab],
        reason,
    )
    reason = _append(reason, no_pos, "no reference-positive case")
    reason = _append(reason, no_neg, "no reference-negative case")
    notes = np.full(len(out), "", dtype=object)
    for name in _ESTIMATES:
        cols = [name, f"{name}_low", f"{name}_high"] + (
            [f"{name}_se"] if name in ("auc", "kappa") else []
        )
        need = _NEEDS_CLASS.get(name, "")
        lacking = {"pos": no_pos, "neg": no_neg, "both": no_pos | no_neg}.get(need, False)
        for label, count_key in _CLASS_COUNTS.get(name, ()):
            few = ~small & ~lacking & (counts[count_key] < min_class)
            notes = _append_each(
                notes, few, counts[count_key],
                f"{name}: {{k}} {label} case(s), fewer than min_class = {min_class}",
            )  # fmt: skip
            lacking = lacking | few
        if f"{name}_se" in cols:
            value = out[name].to_numpy(dtype=float)
            zero = ~small & ~lacking & ~np.isnan(value) & (out[f"{name}_se"].to_numpy() <= ZERO_SE)
            notes = _append(notes, zero, f"{name}: {_ZERO_SE[name]}")
            lacking = lacking | zero
        blank = small | lacking
        out.loc[blank, cols] = np.nan
    out["insufficient"] = small | no_pos | no_neg
    reason = np.where(
        notes != "", [f"{r}; {t}" if r else t for r, t in zip(reason, notes, strict=True)], reason
    )
    out["insufficient_reason"] = pd.Series(reason, index=out.index).replace("", None)
    out["not_estimable"] = pd.Series(notes, index=out.index).replace("", None)
    return out


def _append_each(reason: np.ndarray, mask: np.ndarray, k: np.ndarray, text: str) -> np.ndarray:
    """:func:`_append` with ``{k}`` in ``text`` filled per row."""
    joined = np.array(
        [(f"{r}; " if r else "") + text.format(k=int(c)) for r, c in zip(reason, k, strict=True)],
        dtype=object,
    )
    return np.where(mask, joined, reason)


def _append(reason: np.ndarray, mask: np.ndarray, text: str) -> np.ndarray:
    joined = np.array([f"{r}; {text}" if r else text for r in reason], dtype=object)
    return np.where(mask, joined, reason)


# ----------------------------------------------------------------------- completeness
@cached
def _label_completeness(
    con: duckdb.DuckDBPyConnection,
    by: tuple[str, ...],
    filters: Filters | None,
    period: str | None,
) -> pd.DataFrame:
    cases = cases_query(by, period, filters, flat=has_cases(con))
    keys = ", ".join(cases.keys)
    sql = f"""
        with {cases.ctes}
        select {cases.labels()},
               count(*) as n,
               count(ref_label) as labelled,
               count(*) - count(ref_label) as pending,
               count(ref_label) / count(*) as completeness
        from cases
        group by {keys}
        order by {keys}
    """
    out = con.execute(sql, cases.params).df()
    return out.drop(columns=[ALL_KEY], errors="ignore")


def label_completeness(
    con: duckdb.DuckDBPyConnection,
    *,
    by: tuple[str, ...] | list[str] = ("finding",),
    filters: Filters | None = None,
    period: str | None = None,
) -> pd.DataFrame:
    """Share of predictions that have a reference standard yet, per group.

    Returns
    -------
    DataFrame
        Group columns, ``n`` (predictions), ``labelled``, ``pending`` and ``completeness``
        (labelled / n). Groups and filters as in :func:`summarize`.
    """
    by = check_by(by, GROUP_COLUMNS)
    return _label_completeness(con, by, filters, check_period(period))


# ----------------------------------------------------------------------- discordant cases
_KINDS = {
    "fn": "f.predicted = false and ref.ref_label = 1",
    "fp": "f.predicted = true and ref.ref_label = 0",
    "both": "f.predicted <> (ref.ref_label = 1)",
}


def discordant_cases(
    con: duckdb.DuckDBPyConnection,
    *,
    filters: Filters | None = None,
    kind: str = "both",
    limit: int = 500,
) -> pd.DataFrame:
    """AI false negatives and / or false positives against the reference standard.

    Parameters
    ----------
    kind : {"fn", "fp", "both"}
    limit : int
        At most this many rows, the most confident errors first (largest ``|score -
        threshold|``).

    Returns
    -------
    DataFrame
        ``kind`` ('fn' / 'fp'), study and prediction columns, ``score``, ``threshold``,
        ``ref_label``, ``ref_source``, ``n_readers`` and the pseudonymised ``patient_pid``.
        No raw identifier is stored in RadQA, so none can appear here.
    """
    if kind not in _KINDS:
        raise InputError(f"unknown kind {kind!r}; valid kinds are: {', '.join(_KINDS)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit is {limit!r}; expected a whole number >= 1")
    flat = has_cases(con)
    where, params = where_clause(filters, flat=flat)
    condition = _KINDS[kind]
    if flat:  # the same columns in the cases table
        condition = condition.replace("ref.", "c.").replace("f.", "c.")
    where = f"{where}\n  and {condition}" if where else f"where {condition}"
    if flat:
        # The errors are found in the cases table; only they are joined to the snapshot's
        # tables, by row number. Every error tied with the last one shown is kept until the
        # final order (which breaks ties by study uid) picks the rows.
        params["offset"] = limit - 1
        chosen = f"""
        candidates as (
            select c.prediction_row, abs(c.score - c.threshold) as margin
            from {FLAT_TABLE} as c
            {where}
        ),
        cut as (select margin from candidates order by margin desc limit 1 offset $offset),
        chosen as (
            select prediction_row from candidates
            where margin >= coalesce((select margin from cut), -1)
        ),"""
        source = "where f.rowid in (select prediction_row from chosen)"
    else:
        chosen, source = "", where
    # the lean reference for the scan; the reader count only for the rows shown
    sql = f"""
        with ref as (select * from reference_standard),{chosen}
        shown as (
            select
                case when f.predicted then 'fp' else 'fn' end as kind,
                f.study_uid, f.finding, f.model_name, f.model_version,
                f.score, f.threshold, f.threshold_source,
                ref.ref_label, ref.ref_source, ref.any_ai_assisted,
                s.site, s.modality, s.body_part, s.scanner_manufacturer, s.scanner_model,
                s.study_datetime, s.patient_age, s.patient_sex, s.patient_pid
            from predictions as f
            join ref on ref.study_uid = f.study_uid and ref.finding = f.finding
            left join studies as s on s.study_uid = f.study_uid
            {source}
            order by abs(f.score - f.threshold) desc, f.study_uid, f.finding, f.model_name
            limit $limit
        ),
        readers as (
            select r.study_uid, r.finding, count(distinct r.reader_pid) as n_readers
            from reads as r
            semi join shown on shown.study_uid = r.study_uid and shown.finding = r.finding
            where r.arm = ''
            group by r.study_uid, r.finding
        )
        select shown.*, readers.n_readers
        from shown
        left join readers on readers.study_uid = shown.study_uid
            and readers.finding = shown.finding
        order by abs(shown.score - shown.threshold) desc, shown.study_uid, shown.finding,
            shown.model_name
    """
    return con.execute(sql, {**params, "limit": limit}).df()


# ----------------------------------------------------------------------- overview
def overview_counts(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Row counts for a first page and a data-health check.

    Returns
    -------
    dict
        ``studies``, ``predictions``, ``reads``, ``batches`` (committed ingest batches),
        ``refused_batches``, ``quarantined`` (rows held back at ingest), ``quarantined_open``
        (of those, the rows no later batch has stored a row of the same key for), ``labelled`` and
        ``pending`` (study x finding pairs of the predictions with / without a reference
        standard), ``snapshot_id`` (None when not a published snapshot).
    """
    if has_cases(con):  # the pairs were counted when the cases table was built
        ctes = ""
        pairs = (
            f"(select labelled_pairs from {CASES_CATALOG}.cases_info), "
            f"(select pairs from {CASES_CATALOG}.cases_info)"
        )
    else:
        ctes = (
            "with ref as (select * from reference_standard), "
            "pairs as (select distinct study_uid, finding from predictions)"
        )
        pairs = (
            "(select count(*) from pairs join ref using (study_uid, finding) "
            "where ref.ref_label is not null), (select count(*) from pairs)"
        )
    row = con.execute(
        f"""
        {ctes}
        select
            (select count(*) from studies),
            (select count(*) from predictions),
            (select count(*) from reads),
            (select count(*) from ingest_batches where status = 'committed'),
            (select count(*) from ingest_batches where status = 'refused'),
            (select count(*) from quarantine),
            ({open_quarantine_sql()}),
            {pairs}
        """
    ).fetchall()[0]
    names = ("studies", "predictions", "reads", "batches", "refused_batches", "quarantined",
             "quarantined_open")  # fmt: skip
    result: dict[str, object] = {k: int(v) for k, v in zip(names, row[:7], strict=True)}
    result["labelled"] = int(row[7])
    result["pending"] = int(row[8]) - int(row[7])
    result["snapshot_id"] = snapshot_id(con)
    return result


@cached
def model_versions(
    con: duckdb.DuckDBPyConnection, *, filters: Filters | None = None
) -> pd.DataFrame:
    """Each model version seen: its first and last month of studies and its predictions.

    One GROUP BY over the predictions (no estimates), for the report's model-version table and
    the dashboard.
    """
    where, params = where_clause(filters, flat=True)  # cases_source has the cases columns
    return con.execute(
        f"""
        select c.model_name, c.model_version,
               strftime(min(c.study_datetime), '%Y-%m') as first_month,
               strftime(max(c.study_datetime), '%Y-%m') as last_month,
               count(*) as predictions
        from {cases_source(con)} as c
        {where}
        group by all
        order by c.model_name, first_month, c.model_version
        """,
        params,
    ).df()
