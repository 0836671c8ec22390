"""Reference window and monitored periods as explicit objects.

Modelled on NannyML's ``PeriodBasedChunker(offset="M")`` (``nannyml/chunk.py``): the monitored
unit is a calendar month ``'YYYY-MM'`` of the study date, and the reference is a named window of
months, not an ad-hoc date filter. One month at a small site is often underpowered, so a period
can be widened to a rolling view of the last ``k`` months (``Period("2025-03").rolling(2)``
covers 2025-02 and 2025-03).

The automatic reference window
------------------------------
``ReferenceWindow.first_months(n)`` is the ``n`` calendar months starting at the first month
that holds at least :data:`SPARSE_SHARE` (10%) of the median monthly number of predictions.
Months before it are *sparse leading months*: a study with a wrong year, a test upload, the
first days of a pilot. Left in, one such study would place the whole reference there (a
reference of one study, and every check "insufficient data"). The median of the months with
data is the typical month's volume whatever a few outlying months hold, and a tenth of it keeps
a real first month that started late (a site going live on the 25th still holds about 20%) and
drops a month that cannot stand for the data. The skipped months are named in
:attr:`ResolvedReference.note`. A reference chosen by hand (``ReferenceWindow(first, last)``,
the ``[reference]`` table of ``alert_rules.toml``) is used as given.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from metrics._cache import cached
from metrics._filters import cases_source
from radqa.errors import InputError, InsufficientDataError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: A leading month with fewer predictions than this share of the median month is skipped by the
#: automatic reference window (see the module docstring).
SPARSE_SHARE = 0.1


def check_month(month: str, what: str = "month") -> str:
    """Return ``month`` if it is a ``'YYYY-MM'`` string, else raise :class:`InputError`."""
    if not isinstance(month, str) or not _MONTH.match(month):
        raise InputError(f"{what} is {month!r}; expected a month as 'YYYY-MM', e.g. '2025-03'")
    return month


def month_index(month: str) -> int:
    """Months since year 0 (``'0000-01'`` is 0): lets months be compared and subtracted."""
    check_month(month)
    return int(month[:4]) * 12 + int(month[5:]) - 1


def month_from_index(index: int) -> str:
    """Inverse of :func:`month_index`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def add_months(month: str, n: int) -> str:
    """``month`` shifted by ``n`` months (negative goes back)."""
    return month_from_index(month_index(month) + n)


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included (empty when ``last < first``)."""
    return [month_from_index(i) for i in range(month_index(first), month_index(last) + 1)]


def month_start(month: str) -> dt.date:
    """The first day of ``month``."""
    check_month(month)
    return dt.date(int(month[:4]), int(month[5:]), 1)


@dataclass(frozen=True)
class Period:
    """A monitored period: the month ``month`` and the ``months - 1`` months before it.

    Examples
    --------
    >>> p = Period("2025-03").rolling(2)
    >>> p.label, p.months_covered, str(p.start), str(p.end)
    ('2025-02..2025-03', ['2025-02', '2025-03'], '2025-02-01', '2025-04-01')
    """

    month: str
    months: int = 1

    def __post_init__(self) -> None:
        check_month(self.month, "period month")
        if not isinstance(self.months, int) or self.months < 1:
            raise InputError(f"period length is {self.months!r} months; expected an integer >= 1")

    def rolling(self, months: int) -> Period:
        """The same period ending month, widened to the last ``months`` months."""
        return Period(self.month, months)

    @property
    def first_month(self) -> str:
        return add_months(self.month, -(self.months - 1))

    @property
    def months_covered(self) -> list[str]:
        return month_range(self.first_month, self.month)

    @property
    def label(self) -> str:
        return self.month if self.months == 1 else f"{self.first_month}..{self.month}"

    @property
    def start(self) -> dt.date:
        """First day covered (inclusive)."""
        return month_start(self.first_month)

    @property
    def end(self) -> dt.date:
        """First day after the period (exclusive)."""
        return month_start(add_months(self.month, 1))

    def previous(self, n: int = 1) -> Period:
        """The period of the same length ending ``n`` months earlier."""
        return Period(add_months(self.month, -n), self.months)


@dataclass(frozen=True)
class ResolvedReference:
    """A reference window bound to data: its months (inclusive) and model version.

    ``note`` is None, or a sentence for the reader when the automatic window skipped sparse
    leading months (which, and how many predictions they hold).
    """

    first: str
    last: str
    model_version: str | None
    note: str | None = None

    @property
    def months(self) -> list[str]:
        return month_range(self.first, self.last)

    @property
    def label(self) -> str:
        version = f", model version {self.model_version}" if self.model_version else ""
        return f"{self.first}..{self.last}{version}"

    def contains(self, month: str) -> bool:
        return month_index(self.first) <= month_index(month) <= month_index(self.last)


@dataclass(frozen=True)
class ReferenceWindow:
    """The window the monitored months are compared with.

    Either a fixed range of months (``ReferenceWindow("2024-01", "2024-06")``, both included) or
    the first ``n`` months of data, optionally of one model version
    (``ReferenceWindow.first_months(6, model_version="2.1")``), found in the store by
    :meth:`resolve` (skipping sparse leading months, see the module docstring). With a model
    version, monitoring looks only at that version's predictions.
    """

    first: str | None = None
    last: str | None = None
    n_months: int | None = None
    model_version: str | None = None

    def __post_init__(self) -> None:
        if self.n_months is None:
            if self.first is None or self.last is None:
                raise InputError(
                    "a reference window needs first and last months ('YYYY-MM') or "
                    "ReferenceWindow.first_months(n); found neither"
                )
            check_month(self.first, "reference first month")
            check_month(self.last, "reference last month")
            if month_index(self.last) < month_index(self.first):
                raise InputError(
                    f"reference window ends ({self.last}) before it starts ({self.first}); "
                    "expected first <= last"
                )
        elif not isinstance(self.n_months, int) or self.n_months < 1:
            raise InputError(
                f"reference length is {self.n_months!r} months; expected an integer >= 1"
            )

    @classmethod
    def first_months(cls, n: int, model_version: str | None = None) -> ReferenceWindow:
        """``n`` consecutive calendar months from the first month holding at least
        :data:`SPARSE_SHARE` of the median month's predictions (of ``model_version``)."""
        return cls(n_months=n, model_version=model_version)

    def resolve(self, con: duckdb.DuckDBPyConnection) -> ResolvedReference:
        """Bind the window to the data behind ``con``."""
        counts = _month_counts(con, model_version=self.model_version)
        if self.n_months is None:
            assert self.first is not None and self.last is not None
            note = _thin_window_note(counts, self.first, self.last)
            return ResolvedReference(self.first, self.last, self.model_version, note)
        if not counts:
            version = f" of model version {self.model_version!r}" if self.model_version else ""
            raise InsufficientDataError(
                f"no predictions{version} with a study date in the store; "
                "a reference window needs data"
            )
        first, skipped = first_full_month(counts)
        last = add_months(first, self.n_months - 1)
        note = None
        if skipped:
            named = ", ".join(f"{m} ({n:,})" for m, n in skipped)
            note = (
                f"The reference window starts at {first}: the months before it hold too few AI "
                f"predictions to stand for the data ({named}; fewer than "
                f"{SPARSE_SHARE:.0%} of the median month), perhaps studies with a wrong date. "
                "Set the window in the [reference] table of alert_rules.toml to choose it."
            )
        return ResolvedReference(first, last, self.model_version, note)


def first_full_month(counts: tuple[tuple[str, int], ...]) -> tuple[str, list[tuple[str, int]]]:
    """The first month of ``counts`` (``(month, predictions)``, ascending) holding at least
    :data:`SPARSE_SHARE` of the median month, and the sparse months before it.

    >>> first_full_month((("2023-01", 1), ("2025-01", 900), ("2025-02", 1000)))
    ('2025-01', [('2023-01', 1)])
    """
    median = _median_count(counts)
    for i, (month, n) in enumerate(counts):
        if n >= SPARSE_SHARE * median:
            return month, list(counts[:i])
    raise AssertionError("the month holding the median reaches its own share")  # unreachable


def _median_count(counts: tuple[tuple[str, int], ...]) -> float:
    ordered = sorted(n for _, n in counts)
    k = len(ordered)
    return (ordered[(k - 1) // 2] + ordered[k // 2]) / 2


def _thin_window_note(counts: tuple[tuple[str, int], ...], first: str, last: str) -> str | None:
    """A sentence when a window chosen by hand holds less than :data:`SPARSE_SHARE` of as many
    median months as it spans, else None."""
    if not counts:
        return None
    span = len(month_range(first, last))
    median = _median_count(counts)
    inside = sum(n for m, n in counts if month_index(first) <= month_index(m) <= month_index(last))
    if inside >= SPARSE_SHARE * median * span:
        return None
    return (
        f"The reference window {first}..{last} holds {inside:,} AI predictions, fewer than "
        f"{SPARSE_SHARE:.0%} of {span} typical months (the median month holds {median:,.0f}): "
        "most checks against it will lack data. Check the [reference] table of alert_rules.toml."
    )


def months_in_data(
    con: duckdb.DuckDBPyConnection, *, model_version: str | None = None
) -> list[str]:
    """The months (``'YYYY-MM'``, ascending) in which predictions have studies."""
    return [m for m, _ in _month_counts(con, model_version=model_version)]


@cached
def _month_counts(
    con: duckdb.DuckDBPyConnection, *, model_version: str | None
) -> tuple[tuple[str, int], ...]:
    """``(month, predictions)`` for each month with predictions, ascending."""
    rows = con.execute(
        f"""
        select strftime(date_trunc('month', study_datetime), '%Y-%m') as month, count(*) as n
        from {cases_source(con)} as p
        where study_datetime is not null
          and ($model_version is null or p.model_version = $model_version)
        group by month
        order by month
        """,
        {"model_version": model_version},
    ).fetchall()
    return tuple((str(m), int(n)) for m, n in rows)
