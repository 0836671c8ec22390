"""Reader-vs-reader agreement from the store, per group.

SQL reduces the reads to one label per reader and item (study x finding), then to per-group
2x2 tables of the first two readers and per-item counts of readers saying 0 / 1. Python then
calls the agreement functions of :mod:`metrics` once per group. That loop over groups is
acceptable here because double-read groups are few (tens, not thousands); the rows themselves
never reach Python.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import numpy as np
import pandas as pd

from metrics._agreement import cohen_kappa_table, fleiss_kappa, gwet_ac1, percent_agreement_table
from metrics._cache import cached
from metrics._filters import (
    MODEL_FILTERS,
    READ_GROUP_COLUMNS,
    Filters,
    check_by,
    group_select,
    where_clause,
)
from metrics._proportions import check_alpha
from metrics._types import Estimate
from radqa.errors import InputError, InsufficientDataError

#: Roles that are independent reads; consensus and adjudication reads are excluded (they are
#: made after seeing the others, so they would inflate agreement).
INDEPENDENT_ROLES = ("primary", "second")

_ESTIMATES = ("kappa", "agreement", "fleiss_kappa", "ac1")


def _items_sql(keys: list[tuple[str, str]], where: str, with_arms: bool) -> str:
    """One row per group and item: reader count, positives, the first two readers' labels."""
    select = ",\n            ".join(f"{expr} as {name}" for name, expr in keys)
    names = ", ".join(name for name, _ in keys)
    arm = "" if with_arms else "and f.arm = ''"
    where = f"{where}\n          and " if where else "where "
    return f"""
        with per_reader as (
            select
                {select},
                f.study_uid,
                f.finding,
                f.reader_pid,
                arg_min(f.label, f.read_datetime) as label,
                min(f.read_datetime)              as first_at,
                bool_or(f.read_role = 'primary')  as is_primary
            from reads as f
            left join studies as s on s.study_uid = f.study_uid
            {where}f.read_role in ('primary', 'second') {arm}
            group by all
        )
        select
            {names},
            count(*)   as n_readers,
            sum(label) as n_pos,
            list(label order by not is_primary, first_at, reader_pid) as labels
        from per_reader
        group by {names}, study_uid, finding
        having count(*) >= 2
    """


def reader_agreement(
    con: duckdb.DuckDBPyConnection,
    *,
    by: tuple[str, ...] | list[str] = ("finding",),
    filters: Filters | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Agreement between radiologists on double-read studies, per group.

    Parameters
    ----------
    con : DuckDB connection to a store.
    by : names from :data:`metrics._filters.READ_GROUP_COLUMNS`
        Study columns, ``finding``, ``age_band``, ``ai_assisted`` (the read's own flag) and
        ``arm``. Without ``arm`` only clinical reads (``arm = ''``) count; with ``arm`` every
        arm is its own group (clinical reads in group ``''``).
    filters : Filters, optional
        ``model_name`` / ``model_version`` do not apply to reads and are ignored (listed in
        ``attrs["ignored_filters"]``).
    alpha : float
        1 - confidence level.

    Returns
    -------
    DataFrame
        Per group: ``n_items`` (study x finding items read by two or more radiologists),
        Cohen's ``kappa`` with ``kappa_low/high/se`` and percent ``agreement`` with
        ``agreement_low/high`` between the *first two readers* of each item (the primary
        reader first, then by time of the first read, then by reader pseudonym), ``n_items_3``
        (items with three or more readers) and, over those, ``fleiss_kappa`` and Gwet's ``ac1``
        with intervals. Each reader counts once per item (their earliest independent read);
        consensus and adjudication reads are left out. ``kappa_reason`` says in words why
        Cohen's kappa is NaN (None where it has a value): the two readers agreed on every item
        (a kappa of 1 has a variance of 0), put every item in one category (chance agreement
        1), or one of them used one category only. ``note`` says why any value is NaN.

    Notes
    -----
    Cohen (1960); Fleiss (1971); Gwet (2008). Standard errors and t(n-1) intervals as in
    :func:`metrics.cohen_kappa_table`, :func:`metrics.fleiss_kappa`, :func:`metrics.gwet_ac1`
    (irrCAC, Gwet 2014).
    """
    by = check_by(by, READ_GROUP_COLUMNS)
    alpha = check_alpha(alpha)
    return _reader_agreement(con, by, filters, alpha)


@cached
def _reader_agreement(
    con: duckdb.DuckDBPyConnection, by: tuple[str, ...], filters: Filters | None, alpha: float
) -> pd.DataFrame:
    keys = group_select(by, None, READ_GROUP_COLUMNS) or [("_all", "'all'")]
    names = [name for name, _ in keys]
    where, params = where_clause(filters, model_columns=False)
    items = con.execute(_items_sql(keys, where, "arm" in by), params).df()
    rows = []
    for group, part in items.groupby(names, dropna=False, sort=True):
        rows.append(
            {**dict(zip(names, _as_tuple(group), strict=True)), **_group_stats(part, alpha)}
        )
    columns = [*names, "n_items", *_estimate_columns(), "kappa_reason", "n_items_3", "note"]
    out = pd.DataFrame(rows, columns=columns).drop(columns=["_all"], errors="ignore")
    ignored = [k for k in MODEL_FILTERS if filters is not None and getattr(filters, k)]
    out.attrs.update(
        alpha=alpha,
        ignored_filters=ignored,
        methods={
            "kappa": "Cohen (1960), first two readers, Gwet (2014) SE, t(n-1) interval",
            "agreement": "percent agreement, first two readers, Gwet (2014) SE",
            "fleiss_kappa": "Fleiss (1971), items with 3+ readers, Gwet (2014) SE",
            "ac1": "Gwet AC1 (2008), items with 3+ readers",
        },
    )
    return out


def _as_tuple(group: object) -> tuple[object, ...]:
    return group if isinstance(group, tuple) else (group,)


def _estimate_columns() -> list[str]:
    cols = []
    for name in _ESTIMATES:
        cols += [name, f"{name}_low", f"{name}_high", f"{name}_se"]
    return cols


def _group_stats(part: pd.DataFrame, alpha: float) -> dict[str, object]:
    """The agreement statistics of one group's items (n_readers, n_pos, labels)."""
    first = np.array([lab[0] for lab in part["labels"]], dtype=int)
    second = np.array([lab[1] for lab in part["labels"]], dtype=int)
    table = np.zeros((2, 2))
    np.add.at(table, (first, second), 1)
    multi = part[part["n_readers"] >= 3]
    counts = np.column_stack([multi["n_readers"] - multi["n_pos"], multi["n_pos"]]).astype(float)
    notes: list[str] = []
    stats = {
        "kappa": _safe(cohen_kappa_table, table, alpha, notes, "kappa"),
        "agreement": _safe(percent_agreement_table, table, alpha, notes, "agreement"),
        "fleiss_kappa": _safe(fleiss_kappa, counts, alpha, notes, "Fleiss kappa"),
        "ac1": _safe(gwet_ac1, counts, alpha, notes, "AC1"),
    }
    out: dict[str, object] = {"n_items": len(part), "n_items_3": len(multi)}
    for name, est in stats.items():
        out.update(
            {
                name: est.value,
                f"{name}_low": est.low,
                f"{name}_high": est.high,
                f"{name}_se": np.nan if est.se is None else est.se,
            }
        )
        if est.note:
            notes.append(f"{name}: {est.note}")
    out["kappa_reason"] = _not_estimable(stats["kappa"])
    out["note"] = "; ".join(notes) or None
    return out


#: :func:`metrics.cohen_kappa_table`'s words for its table, in this module's: rater A (the
#: table's rows) is the first reader of each item, rater B the second
_READER_WORDS = (
    ("rater A (rows)", "the first reader"),
    ("rater B (columns)", "the second reader"),
    ("raters", "readers"),
    ("subjects", "items"),
)


def _not_estimable(est: Estimate) -> str | None:
    """Why Cohen's kappa of the first two readers is NaN, in words that start "not estimable:
    " and speak of readers and items; None for a value."""
    if not np.isnan(est.value):
        return None
    why = est.note or "no reason given"
    for table_word, reader_word in _READER_WORDS:
        why = why.replace(table_word, reader_word)
    return why if why.startswith("not estimable") else f"not estimable: {why}"


def _safe(
    fn: Callable[..., Estimate], data: np.ndarray, alpha: float, notes: list[str], label: str
) -> Estimate:
    """``fn(data)``, or a NaN estimate with the reason when there is too little data."""
    nan = float("nan")
    if data.size == 0 or data.sum() == 0:
        return Estimate(nan, nan, nan, None, label, "no items")
    try:
        result: Estimate = fn(data, alpha=alpha)
        return result
    except (InsufficientDataError, InputError) as exc:
        return Estimate(nan, nan, nan, None, label, str(exc))
