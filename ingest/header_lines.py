"""A CSV line that repeats the header: the sign of exports joined into one file.

``cat jan.csv feb.csv > q1.csv`` leaves February's header line among the rows. When it lists the
columns in the file header's order, the rows after it are where the header says, and the line
is skipped (counted and named in the batch message). When it lists them in another order, or
other columns, every row after it is under the wrong columns: a reader id read as the finding,
a finding read as a reader id. Nothing of such a file can be trusted, and any value may be an
id, so the whole file is refused, nothing stored, not even in quarantine.

The rule. A row is a repeated header line when, of the contract's columns the file has, more
than half (and at least two) hold a column name (of the file's header or the contract),
compared trimmed and case-insensitively. It lists the columns in the header's order when every
contract column and every extra column kept holds its own name and the row has as many fields
as the header; else in another order. A header line always breaks a rule (a label 'label', a
score 'score' is no number), so it is looked for among the bad rows of ``_checked`` alone, in
one query, and only when the checking pass found bad rows: a clean file pays nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import duckdb

from ingest.contract import CONTRACTS
from ingest.readers import Source, literal
from ingest.validate import column_sql, kept_extras, q
from radqa.errors import FileRefusedError
from radqa.settings import Settings

# The most rows named in the batch message; the others are counted
_ROWS_NAMED = 5


@dataclass(frozen=True)
class HeaderLines:
    """The repeated header lines among the bad rows of ``_checked`` (:func:`find_header_lines`):
    ``test``, SQL true for such a row; ``aligned``, SQL true for one that lists the columns in
    the header's order; whether any does not (``misaligned``); how many there are."""

    test: str
    aligned: str
    misaligned: bool
    count: int


def _norm(sql: str) -> str:
    """A value as compared with the column names: trimmed, lower case, without the byte-order
    mark that starts each export's header where the exports were saved as "CSV UTF-8"."""
    return f"lower(trim(replace(cast({sql} as varchar), chr(65279), '')))"


def _tests(
    kind: str, source: Source, settings: Settings, stored: Collection[str]
) -> tuple[str, str]:
    """SQL (header line, aligned) over a row of ``_checked`` (see the module's rule).

    A contract column's value as read: from ``_raw_json`` (the bad row's values as text), else,
    for a row too malformed to have one, its typed column (a text column is its text); an id
    column (whose ``_raw_json`` value is a pseudonym) from ``_id_<name>``, its raw text, which
    is only compared here. An extra column kept, from ``extra``."""
    contract = CONTRACTS[kind]
    present = [c for c in contract if c.name in source.lowered]
    names = sorted(set(source.lowered) | {c.name for c in contract})
    listed = "[" + ", ".join(literal(n) for n in names) + "]"
    values: list[tuple[str, str]] = []
    for c in present:
        if c.identifier:
            sql = q("_id_" + c.name)
        else:
            typed = column_sql(c.name, stored, contract)
            raw = f"json_extract_string(_raw_json, {literal('$.' + q(c.name))})"
            sql = f"coalesce({raw}, cast({typed} as varchar))"
        values.append((c.name, _norm(sql)))
    named = " + ".join(f"(list_position({listed}, {v}) is not null)::int" for _, v in values)
    test = f"(not _ok and ({named}) >= 2 and 2 * ({named}) > {len(present)})"
    own = [f"coalesce({v} = {literal(n)}, false)" for n, v in values]
    if "extra" in stored:
        for e in kept_extras(source, settings):
            pointer = "/" + e.replace("~", "~0").replace("/", "~1")  # RFC 6901
            own.append(
                f"coalesce({_norm(f'json_extract_string(extra, {literal(pointer)})')} = "
                f"{literal(e)}, false)"
            )
    if "_overflow" in stored:
        own.append("_overflow is null")
    return test, "(" + " and ".join(own) + ")"


def find_header_lines(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: Source,
    settings: Settings,
    stored: Collection[str],
) -> HeaderLines | None:
    """The lines of a CSV file's ``_checked`` that repeat the header (see the module's rule);
    None when there are none, or the file is not CSV (JSON Lines and Parquet have no header
    line). Call it only when the checking pass found bad rows: one scan of the bad rows."""
    if source.fmt != "csv":
        return None
    test, aligned = _tests(kind, source, settings, stored)
    [(count, misaligned)] = con.execute(
        f"select count(*), count(*) filter (where not {aligned}) from _checked where {test}"
    ).fetchall()
    if not count:
        return None
    return HeaderLines(test, aligned, bool(misaligned), int(count))


def header_rows(
    con: duckdb.DuckDBPyConnection, found: HeaderLines, *, gaps: bool, misaligned: bool = False
) -> list[int]:
    """The row numbers, as shown (a spreadsheet's, empty lines counted, as
    :func:`ingest.validate.problems_sql` numbers a bad row), of the repeated header lines, or
    of those that list the columns in another order (``misaligned``), in file order.
    ``_checked`` must hold the rows in file order (``rowid + 1`` is the row among those read);
    ``gaps``: temp table ``_gaps`` counts the empty lines (:func:`ingest.load._empty_lines`)."""
    which = f" and not {found.aligned}" if misaligned else ""
    rows = f"select rowid + 1 as rn from _checked where {found.test}{which}"
    if gaps:
        rows = (
            f"select r.rn + coalesce(g.n, 0) as rn "
            f"from ({rows}) r asof left join _gaps g on r.rn > g.k"
        )
    return [int(n) for (n,) in con.execute(f"select rn from ({rows}) order by rn").fetchall()]


def joined_refusal(name: str, row: int) -> FileRefusedError:
    """The refusal of a file whose header line is repeated at ``row`` in another order."""
    return FileRefusedError(
        f"{name}: row {row} repeats the header line with the columns in another order (or other "
        "columns): the file joins exports written with different column orders, so the rows "
        "after that line are not under their header's columns and any of their values may be "
        "a patient or reader id; nothing was loaded. Split the file at that line, or export it "
        "again with one column order"
    )


def skipped_note(rows: Sequence[int]) -> str:
    """The batch message's note on the repeated header lines skipped, at ``rows``."""
    shown = ", ".join(str(r) for r in rows[:_ROWS_NAMED])
    if len(rows) > _ROWS_NAMED:
        shown += f" and {len(rows) - _ROWS_NAMED} more"
    elif len(rows) > 1:
        shown = f"{', '.join(str(r) for r in rows[:-1])} and {rows[-1]}"
    if len(rows) == 1:
        return f"; row {shown} repeats the header line (files joined?); skipped"
    return f"; rows {shown} repeat the header line (files joined?); skipped"
