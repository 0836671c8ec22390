"""Allow-listed group-by columns, periods and filters for the store queries.

Identifiers in the generated SQL come only from the dictionaries in this module; every value a
user chose (a site, a date) enters the query as a ``$name`` parameter. The SQL aliases are fixed:
``s`` is ``studies``, ``f`` the fact table (``predictions`` for :func:`metrics.summarize`,
``reads`` for :func:`metrics.reader_agreement`), ``ref`` the reference standard and ``arms`` the
trial arms a study was read in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from pathlib import Path

import duckdb

from radqa.derived import AGE_BAND_SQL, CASES_CATALOG, has_cases
from radqa.errors import InputError

AGE_BANDS = ("0-17", "18-39", "40-64", "65-79", "80+")


#: Group-by name -> SQL expression. ``ai_assisted`` is whether any clinical read behind the
#: reference standard saw the AI output (NULL for pending cases) in summaries, and the read's own
#: flag in reader agreement. ``arm`` is the trial arm a study was read in ('' = clinical only).
GROUP_COLUMNS: dict[str, str] = {
    "site": "s.site",
    "scanner_manufacturer": "s.scanner_manufacturer",
    "scanner_model": "s.scanner_model",
    "scanner_software": "s.scanner_software",
    "modality": "s.modality",
    "body_part": "s.body_part",
    "finding": "f.finding",
    "model_name": "f.model_name",
    "model_version": "f.model_version",
    "patient_sex": "s.patient_sex",
    "age_band": AGE_BAND_SQL,
    "ai_assisted": "ref.any_ai_assisted",
    "arm": "coalesce(arms.arm, '')",
}

#: Columns that exist on reads (reader agreement): no model columns there.
READ_GROUP_COLUMNS: dict[str, str] = {
    **{k: v for k, v in GROUP_COLUMNS.items() if k not in ("model_name", "model_version")},
    "ai_assisted": "f.ai_assisted",
    "arm": "f.arm",
}

#: Period name -> (unit of ``date_trunc`` on ``s.study_datetime``, SQL label of that ``period``).
#: Groups are formed on the truncated timestamp (cheap, sorts in time order) and labelled at the
#: end: 'YYYY-MM', 'YYYY-Qn', or the ISO 8601 week 'YYYY-Www' (weeks start on Monday).
PERIODS: dict[str, tuple[str, str]] = {
    "month": ("month", "strftime(period, '%Y-%m')"),
    "quarter": ("quarter", "year(period)::varchar || '-Q' || quarter(period)::varchar"),
    "week": ("week", "strftime(period, '%G-W%V')"),
}

#: Filter field -> SQL column it restricts (list fields only; dates are handled apart).
FILTER_COLUMNS: dict[str, str] = {
    "site": "s.site",
    "scanner_manufacturer": "s.scanner_manufacturer",
    "scanner_model": "s.scanner_model",
    "scanner_software": "s.scanner_software",
    "modality": "s.modality",
    "body_part": "s.body_part",
    "patient_sex": "s.patient_sex",
    "finding": "f.finding",
    "model_name": "f.model_name",
    "model_version": "f.model_version",
}
MODEL_FILTERS = ("model_name", "model_version")


@dataclass(frozen=True)
class Filters:
    """What to include: study dates and lists of allowed values (empty = no restriction).

    ``date_from`` and ``date_to`` are inclusive calendar days on ``studies.study_datetime``.
    Lists are stored as tuples so a ``Filters`` is hashable (it is part of the cache key).
    """

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    site: tuple[str, ...] = ()
    scanner_manufacturer: tuple[str, ...] = ()
    scanner_model: tuple[str, ...] = ()
    scanner_software: tuple[str, ...] = ()
    modality: tuple[str, ...] = ()
    body_part: tuple[str, ...] = ()
    patient_sex: tuple[str, ...] = ()
    finding: tuple[str, ...] = ()
    model_name: tuple[str, ...] = ()
    model_version: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in FILTER_COLUMNS:
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if isinstance(value, dt.datetime):
                object.__setattr__(self, name, value.date())
            elif value is not None and not isinstance(value, dt.date):
                raise InputError(f"Filters.{name} must be a date; found {value!r}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError(
                f"Filters.date_from ({self.date_from}) is after date_to ({self.date_to}); "
                "expected date_from <= date_to"
            )

    def active(self) -> dict[str, object]:
        """The fields that restrict anything."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def check_by(by: tuple[str, ...] | list[str] | str, allowed: dict[str, str]) -> tuple[str, ...]:
    """Validated group-by names; InputError listing the valid names for any unknown one."""
    names = (by,) if isinstance(by, str) else tuple(by)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        hint = " (use period='month'|'quarter'|'week' for periods)" if "period" in unknown else ""
        raise InputError(
            f"unknown group-by column(s) {unknown}; valid names are: "
            f"{', '.join(sorted(allowed))}{hint}"
        )
    if len(set(names)) != len(names):
        raise InputError(f"group-by columns repeat: {list(names)}; name each column once")
    return names


def check_period(period: str | None) -> str | None:
    """Validated period name; InputError listing the valid ones."""
    if period is not None and period not in PERIODS:
        raise InputError(
            f"unknown period {period!r}; valid periods are: {', '.join(PERIODS)} (or None)"
        )
    return period


#: Group-by name -> column of the per-snapshot cases table (:mod:`radqa.derived`, alias ``c``),
#: which holds every group column above except the trial ``arm``.
FLAT_COLUMNS: dict[str, str] = {name: f"c.{name}" for name in GROUP_COLUMNS if name != "arm"}
FLAT_TABLE = f"{CASES_CATALOG}.cases"

#: The same columns as the cases table, joined at query time (no cases table attached).
_JOINED_CASES = f"""(
        select s.site, s.scanner_manufacturer, s.scanner_model, s.scanner_software, s.modality,
               s.body_part, s.patient_sex, {AGE_BAND_SQL} as age_band, s.study_datetime,
               f.finding, f.model_name, f.model_version, f.score, f.predicted, f.threshold,
               ref.ref_label, ref.any_ai_assisted as ai_assisted
        from predictions as f
        left join studies as s on s.study_uid = f.study_uid
        left join reference_standard as ref
            on ref.study_uid = f.study_uid and ref.finding = f.finding
    )"""


def cases_source(con: duckdb.DuckDBPyConnection) -> str:
    """A from-item with one row per prediction and the cases table's columns: the snapshot's
    cases table when attached (:mod:`radqa.derived`), else the join that builds it."""
    return FLAT_TABLE if has_cases(con) else _JOINED_CASES


def group_select(
    by: tuple[str, ...],
    period: str | None,
    allowed: dict[str, str] = GROUP_COLUMNS,
    date_column: str = "s.study_datetime",
) -> list[tuple[str, str]]:
    """(output name, SQL expression) for each group column, period last."""
    cols = [(name, allowed[name]) for name in by]
    if period is not None:
        cols.append(("period", f"date_trunc('{PERIODS[period][0]}', {date_column})"))
    return cols


def where_clause(
    filters: Filters | None, *, model_columns: bool = True, flat: bool = False
) -> tuple[str, dict[str, object]]:
    """A ``where`` clause (or '') and its parameters for ``filters``.

    Parameters
    ----------
    filters : Filters or None
    model_columns : bool
        False for queries over reads, which have no model: ``model_name`` / ``model_version``
        filters are then left out (the caller reports them as ignored).
    flat : bool
        True for a query over the cases table (alias ``c``) instead of the joined tables.
    """
    if filters is None:
        return "", {}
    parts: list[str] = []
    params: dict[str, object] = {}
    date_column = "c.study_datetime" if flat else "s.study_datetime"
    if filters.date_from is not None:
        parts.append(f"{date_column} >= $date_from")
        params["date_from"] = filters.date_from
    if filters.date_to is not None:
        parts.append(f"{date_column} < $date_to_excl")
        params["date_to_excl"] = filters.date_to + dt.timedelta(days=1)
    for name, sql_column in FILTER_COLUMNS.items():
        column = f"c.{name}" if flat else sql_column
        values = getattr(filters, name)
        if not values or (not model_columns and name in MODEL_FILTERS):
            continue
        names = [f"{name}_{i}" for i in range(len(values))]
        params.update(zip(names, values, strict=True))
        parts.append(f"{column} in ({', '.join('$' + n for n in names)})")
    if not parts:
        return "", {}
    return "where " + "\n      and ".join(parts), params


# ------------------------------------------------------------------ SQL assembly
_SQL_DIR = Path(__file__).resolve().parent / "sql"
_ARM_JOIN = (
    "left join (select distinct study_uid, finding, arm from reads where arm <> '') as arms\n"
    "        on arms.study_uid = f.study_uid and arms.finding = f.finding"
)
ALL_KEY = "_all"


def sql_text(name: str) -> str:
    """The text of ``metrics/sql/<name>.sql`` without its full-line ``--`` comments.

    The comments document the file (and may name the template's placeholders); the query
    sent to DuckDB, and pinned by the snapshot test, is the SQL alone.
    """
    lines = (_SQL_DIR / f"{name}.sql").read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip()


@dataclass(frozen=True)
class CasesQuery:
    """The ``ref`` and ``cases`` CTEs for a grouping and filters, with their parameters.

    ``keys`` are the output names of the group columns (``_all`` when there are none, so that
    every query can partition and group by something).
    """

    ctes: str
    keys: tuple[str, ...]
    params: dict[str, object]
    period: str | None = None

    def labels(self) -> str:
        """The group columns for a final ``select``: the period as its text label."""
        return ", ".join(
            f"{PERIODS[self.period][1]} as period" if k == "period" and self.period else k
            for k in self.keys
        )


def cases_query(
    by: tuple[str, ...], period: str | None, filters: Filters | None, *, flat: bool = False
) -> CasesQuery:
    """Fill ``metrics/sql/cases.sql`` from the allow-list (names were checked by the caller).

    ``flat``: read the per-snapshot cases table instead (``metrics/sql/cases_flat.sql``; the
    caller checked :func:`radqa.derived.has_cases`); the trial ``arm`` needs the reads, so a
    grouping by ``arm`` always joins.
    """
    if flat and "arm" not in by:
        cols = group_select(by, period, FLAT_COLUMNS, "c.study_datetime") or [(ALL_KEY, "'all'")]
        where, params = where_clause(filters, flat=True)
        ctes = sql_text("cases_flat").format(
            table=FLAT_TABLE,
            group_select=",\n        ".join(f"{expr} as {name}" for name, expr in cols),
            where=where,
        )
        ctes = "\n".join(line.rstrip() for line in ctes.splitlines() if line.strip())
        return CasesQuery(ctes, tuple(name for name, _ in cols), params, period)
    cols = group_select(by, period) or [(ALL_KEY, "'all'")]
    where, params = where_clause(filters)
    ctes = sql_text("cases").format(
        reference_label="select * from reference_standard",
        group_select=",\n        ".join(f"{expr} as {name}" for name, expr in cols),
        arm_join=_ARM_JOIN if "arm" in by else "",
        where=where,
    )
    ctes = "\n".join(line.rstrip() for line in ctes.splitlines() if line.strip())
    return CasesQuery(ctes, tuple(name for name, _ in cols), params, period)
