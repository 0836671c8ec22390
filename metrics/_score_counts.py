"""Grouped summaries from counts per distinct score, for groupings with few groups.

:func:`metrics.summarize` has two exact ways to its sufficient statistics. The general one
(``metrics/sql/summary.sql``) collects each group's scores as sorted lists; with a few very large
groups (the Overview's model x finding) DuckDB then sorts a few long lists on one core each.
This one (``metrics/sql/summary_by_score.sql``) counts the predictions per group and distinct
score in a parallel hash aggregation, and :func:`score_count_auc` turns the running sums along
the scores into the AUC and DeLong's placement-value variances, ties included. Both give the same
numbers (up to floating-point rounding in the last digits, tested).

:func:`few_groups` picks it when the counts would be at most half the rows read, estimated from
the cases file's small table of cells.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd

from metrics._filters import CasesQuery, Filters, sql_text, where_clause
from radqa.derived import CASES_CATALOG, CELL_COLUMNS, cases_stats


def few_groups(
    con: duckdb.DuckDBPyConnection,
    by: tuple[str, ...],
    period: str | None,
    filters: Filters | None = None,
) -> bool:
    """Whether counting per score beats sorted lists for this grouping (cases table attached).

    From the cases file's table of cells (predictions per combination of group columns and
    period): the rows the query reads, and the rows counting per score would return, at most
    the distinct scores per group. Counting wins when it returns at most half the rows it reads
    (a few large groups); with many small groups the sorted lists are faster. Date filters are
    left out of the estimate.
    """
    keys = [*by, *([period] if period else [])]
    if any(k not in CELL_COLUMNS for k in keys):
        return False  # e.g. the trial arm, which the cases table lacks
    where, params = where_clause(
        replace(filters, date_from=None, date_to=None) if filters else None, flat=True
    )
    group = ", ".join(f"c.{k}" for k in keys) or "'all'"
    row = con.execute(
        f"""
        select coalesce(sum(least(n, $scores)), 0), coalesce(sum(n), 0)
        from (select {group}, sum(n) as n from {CASES_CATALOG}.cells as c {where} group by all)
        """,
        {**params, "scores": cases_stats(con)["score_values"]},
    ).fetchall()[0]
    returned, read = int(row[0]), int(row[1])
    return read > 0 and returned <= read / 2


def score_counts_summary(con: duckdb.DuckDBPyConnection, cases: CasesQuery) -> pd.DataFrame:
    """Per-group ``n, pending, tp, fp, fn, tn, auc, s10, s01`` (as ``summary_counts``)."""
    select = sql_text("summary_by_score").format(labels=cases.labels(), keys=", ".join(cases.keys))
    sql = f"with\n{cases.ctes}\n{select}"
    cells = con.sql(sql, params=cases.params or None).to_arrow_table().to_pandas()
    keys = list(cases.keys)
    if cells.empty:
        empty = cells[keys].copy()
        for col in ("n", "pending", "tp", "fp", "fn", "tn"):
            empty[col] = pd.Series(dtype="int64")
        for col in ("auc", "s10", "s01"):
            empty[col] = pd.Series(dtype=float)
        return empty
    group = cells.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    out = cells[keys].iloc[first].reset_index(drop=True)
    size = first.size
    for col in ("n", "pending", "tp", "fp", "fn", "tn"):
        out[col] = np.bincount(group, weights=cells[col].to_numpy(float), minlength=size).astype(
            np.int64
        )
    pos, neg = cells["pos"].to_numpy(float), cells["neg"].to_numpy(float)
    out["auc"], out["s10"], out["s01"] = score_count_auc(group, pos, neg)
    return out


def score_count_auc(
    group: np.ndarray, pos: np.ndarray, neg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical AUC and DeLong's placement-value variances from counts per distinct score.

    Parameters
    ----------
    group : int array
        Group index (0, 1, ...) of each row; rows of a group are contiguous and in ascending
        score order, one row per distinct score.
    pos, neg : float arrays
        Reference-positive and -negative cases at that score.

    Returns
    -------
    auc, s10, s01 : float arrays, one per group
        As :func:`metrics._grouped.placement_auc` (DeLong, DeLong & Clarke-Pearson 1988): for
        the positives at score x, ``V10 = (#negatives below x + 0.5 #negatives at x) / n_neg``,
        for the negatives at y, ``V01 = (#positives above y + 0.5 #positives at y) / n_pos``;
        ``s10`` and ``s01`` are their sample variances over the cases (each score's value
        weighted by its count). NaN where undefined.

    Examples
    --------
    >>> auc, s10, s01 = score_count_auc(
    ...     np.array([0, 0, 0, 0]), np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 1.0, 0, 0]))
    >>> float(auc[0])  # positives at 0.4 and 0.8, negatives at 0.1 and 0.4: as placement_auc
    0.875
    """
    size = int(group.max()) + 1 if group.size else 0
    n_pos = np.bincount(group, weights=pos, minlength=size)
    n_neg = np.bincount(group, weights=neg, minlength=size)
    before_pos = np.cumsum(n_pos) - n_pos  # cases of the earlier groups
    before_neg = np.cumsum(n_neg) - n_neg
    neg_below = np.cumsum(neg) - neg - before_neg[group]
    pos_above = n_pos[group] - (np.cumsum(pos) - before_pos[group])
    with np.errstate(divide="ignore", invalid="ignore"):
        v10 = (neg_below + 0.5 * neg) / n_neg[group]
        auc = np.bincount(group, weights=pos * v10, minlength=size) / n_pos
        s10 = np.bincount(group, weights=pos * (v10 - auc[group]) ** 2, minlength=size) / (
            n_pos - 1
        )
        v01 = (pos_above + 0.5 * pos) / n_pos[group]
        s01 = np.bincount(group, weights=neg * (v01 - auc[group]) ** 2, minlength=size) / (
            n_neg - 1
        )
    both = (n_pos > 0) & (n_neg > 0)
    return (
        np.where(both, auc, np.nan),
        np.where(both & (n_pos > 1), s10, np.nan),
        np.where(both & (n_neg > 1), s01, np.nan),
    )
