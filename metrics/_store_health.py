"""The store's own record of what was loaded: ingest batches and quarantined rows."""

from __future__ import annotations

import duckdb
import pandas as pd

from metrics._cache import cached
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


@cached
def quarantine_rows(con: duckdb.DuckDBPyConnection, *, limit: int = 500) -> pd.DataFrame:
    """The latest ``limit`` quarantined rows with their reason (file, row, column, value found,
    what was expected) and their values as JSON; identifiers appear only as pseudonyms."""
    _check_limit(limit)
    return con.execute(
        """
        select q.batch_id, b.kind, q.file_name, q.row_number, q.column_name, q.reason,
               q.raw::varchar as raw_values
        from quarantine as q
        left join ingest_batches as b on b.batch_id = q.batch_id
        order by q.batch_id desc, q.row_number
        limit $limit
        """,
        {"limit": limit},
    ).df()


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit is {limit!r}; expected a whole number >= 1")
