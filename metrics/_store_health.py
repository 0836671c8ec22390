"""The store's own record of what was loaded: ingest batches and quarantined rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from metrics._cache import cached
from metrics._periods import add_months, month_start
from radqa.errors import InputError


@cached
def ingest_batches(con: duckdb.DuckDBPyConnection, *, limit: int = 500) -> pd.DataFrame:
    """The latest ``limit`` ingest batches, newest first: what each did (status, then its message:
    refusals, columns not stored), its row counts and times, and the identity of the file it
    loaded: its size and sha256 (``sha256sum`` of a file on hand shows whether it is the one
    loaded; a DICOM batch's hash covers its files' paths and headers, its size is empty)."""
    _check_limit(limit)
    return con.execute(
        """
        select batch_id, kind, file_name, status, message, rows_read, rows_accepted,
               rows_inserted, rows_replaced, rows_unchanged, rows_quarantined, started_at,
               finished_at, file_bytes, content_hash as file_sha256
        from ingest_batches
        order by batch_id desc
        limit $limit
        """,
        {"limit": limit},
    ).df()


def _raw(key: str) -> str:
    """A quarantined row's value of ``key`` as ingest would store it (trimmed, '' as NULL)."""
    return f"nullif(trim(q.raw ->> '{key}'), '')"


# The first later batch that stored a row of the quarantined row's natural key (its file was
# mended and loaded again, or the row came in another file): NULL while none has. A row kept
# without its values (a CSV row of the wrong width) has no key to look for.
_LOADED_LATER = f"""
    case b.kind
      when 'predictions' then (
        select min(p.batch_id) from predictions as p
        where p.batch_id > q.batch_id and p.study_uid = {_raw("study_uid")}
          and p.finding = {_raw("finding")} and p.model_name = {_raw("model_name")}
          and p.model_version = {_raw("model_version")})
      when 'reads' then (
        select min(r.batch_id) from reads as r
        where r.batch_id > q.batch_id and r.study_uid = {_raw("study_uid")}
          and r.finding = {_raw("finding")} and r.reader_pid = q.raw ->> 'reader_pid'
          and r.read_role = lower(coalesce({_raw("read_role")}, 'primary'))
          and r.arm = coalesce({_raw("arm")}, ''))
    end"""


@cached
def quarantine_rows(con: duckdb.DuckDBPyConnection, *, limit: int = 500) -> pd.DataFrame:
    """The latest ``limit`` quarantined rows with their reason (file, row, column, value found,
    what was expected), ``loaded_later`` (the first later batch that stored a row of the same
    natural key: the row was mended since; NULL while none has) and their values as JSON;
    identifiers appear only as pseudonyms."""
    _check_limit(limit)
    return con.execute(
        f"""
        select q.batch_id, b.kind, q.file_name, q.row_number, q.column_name, q.reason,
               {_LOADED_LATER} as loaded_later, q.raw::varchar as raw_values
        from quarantine as q
        left join ingest_batches as b on b.batch_id = q.batch_id
        order by q.batch_id desc, q.row_number
        limit $limit
        """,
        {"limit": limit},
    ).df()


def open_quarantine_sql() -> str:
    """SQL counting the quarantined rows no later batch has stored a row of the same natural
    key for: the rows still to mend."""
    return f"""
        select count(*) from quarantine as q
        left join ingest_batches as b on b.batch_id = q.batch_id
        where ({_LOADED_LATER}) is null"""


@dataclass(frozen=True)
class MonthData:
    """What the store holds for one month: its studies and AI predictions (by study date), and
    the dates of the first and last study in the whole store (None when it has none)."""

    month: str
    studies: int
    predictions: int
    first_study: dt.date | None
    last_study: dt.date | None
    #: the month's predictions that have a reference standard
    labelled: int = 0
    #: of those, how many have a reference built from at least one read made with the AI's
    #: output in view (``reference_standard.any_ai_assisted``): not an independent reference
    ai_assisted_reference: int = 0
    #: clinical reads (``arm = ''``) in the whole snapshot, of any month
    reads: int = 0


def month_data(con: duckdb.DuckDBPyConnection, month: str) -> MonthData:
    """How many studies and predictions the store has for ``month`` ('YYYY-MM'), and the span
    of its study dates: a report for a month without data says so instead of showing no alert.

    Examples
    --------
    >>> from radqa.store import memory_store
    >>> month_data(memory_store(), "2026-10")
    MonthData(month='2026-10', studies=0, predictions=0, first_study=None, last_study=None, \
labelled=0, ai_assisted_reference=0, reads=0)
    """
    start = month_start(month)
    params = {"start": start, "end": month_start(add_months(month, 1))}
    studies, first, last = con.execute(
        """
        select count(*) filter (where study_datetime >= $start and study_datetime < $end),
               min(study_datetime)::date, max(study_datetime)::date
        from studies
        """,
        params,
    ).fetchone() or (0, None, None)
    predictions, labelled, assisted, reads = con.execute(
        """
        select count(*), count(r.ref_label), count(*) filter (where r.any_ai_assisted),
               (select count(*) from reads where arm = '')
        from predictions as p
        join studies as s using (study_uid)
        left join reference_standard as r using (study_uid, finding)
        where s.study_datetime >= $start and s.study_datetime < $end
        """,
        params,
    ).fetchone() or (0, 0, 0, 0)
    return MonthData(
        month, int(studies), int(predictions), first, last, int(labelled), int(assisted), int(reads)
    )


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit is {limit!r}; expected a whole number >= 1")
