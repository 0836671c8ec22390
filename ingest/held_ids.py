"""Patient and reader ids in the rows of a batch that would load: which columns hold one.

An id typed where a site, finding or scanner goes, or in an extra column, would be stored and
shown like any value of a row that loads. :func:`find_held` searches the good rows of
``_checked`` (the checking pass's table, :mod:`ingest.load`) for the file's own ids and the
ids the store knows (:func:`ingest.redact.find_held_ids`), by each column's few distinct
values, and the extra columns' names; ``ingest.load`` quarantines the rows it names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import duckdb

from ingest.contract import CONTRACTS
from ingest.readers import Source, literal
from ingest.redact import find_held_ids
from ingest.validate import kept_extras, q
from radqa.settings import Settings

# The most columns whose distinct values are taken by grouping sets (one hash table each)
_GROUPING_SETS = 32

# What each text column of the contract holds, for the reason of a row that has an id there
_HOLDS = {
    "site": "a site name", "finding": "a finding's name", "model_name": "the AI model's name",
    "model_version": "the AI model's version", "body_part": "a body part",
    "scanner_manufacturer": "the scanner's manufacturer", "scanner_model": "the scanner's model",
    "scanner_software": "the scanner's software version", "station": "the scanner's station name",
    "arm": "the study arm", "rating": "a rating (a number)",
}  # fmt: skip
_EXTRA_HOLDS = (
    "a value that is no patient's or reader's id (or leave the column out: extra_columns in "
    "radqa.toml)"
)


class _Target(NamedTuple):
    """A column searched for ids (:func:`find_held`): its name, SQL giving a row's value as
    text, what the column holds (for the reason), and, for an extra column, its JSON pointer
    in ``extra``."""

    name: str
    sql: str
    what: str
    pointer: str | None = None


def _held_targets(kind: str, source: Source, settings: Settings, stored: set[str]) -> list[_Target]:
    """The columns of ``_checked`` searched for ids (:func:`find_held`): the text columns of
    the contract the file has, the ids aside; a rating that is a whole number of 4 digits or
    more (a reader id typed there); then each extra column kept, read from ``extra``."""
    targets = []
    for c in CONTRACTS[kind]:
        if c.name in _HOLDS and c.name in source.lowered and c.name in stored:
            sql = q(c.name)
            if c.name == "arm":
                sql = "nullif(arm, '')"  # '' when the file gives none
            elif c.kind == "number":
                sql = (
                    f"case when abs({sql}) between 1000 and 1e18 and {sql} = trunc({sql}) "
                    f"then cast({sql}::bigint as varchar) end"
                )
            targets.append(_Target(c.name, sql, _HOLDS[c.name]))
    if "extra" in stored:
        for e in kept_extras(source, settings):
            pointer = "/" + e.replace("~", "~0").replace("/", "~1")  # RFC 6901
            sql = f"json_extract_string(extra, {literal(pointer)})"
            targets.append(_Target(e, sql, _EXTRA_HOLDS, pointer))
    return targets


def find_held(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: Source,
    settings: Settings,
    params: dict[str, object],
    *,
    stored: set[str],
    own_ids: Callable[[duckdb.DuckDBPyConnection], str | None],
    headers: bool = True,
) -> tuple[tuple[tuple[str, str, str], ...], tuple[str, ...]]:
    """Search the rows of ``_checked`` that load for a patient or reader id in another column
    (:func:`ingest.redact.find_held_ids`: one of the file's own, or one the store knows), and,
    with ``headers``, the names of the file's extra columns. Return the columns where a row
    holds one, as (name, SQL test of a row, what the column holds; for
    :func:`ingest.load._mark_held_ids`), and the extra columns (lower case) whose name does.
    ``stored``: the columns ``_checked`` holds; ``own_ids``: gives the SQL of the file's own
    ids (:func:`ingest.load._own_ids`), called once an earlier search's ``_held`` is dropped
    (it holds ids found before, in other columns).

    No loop over rows: one scan takes the distinct values of each column (a few sites,
    findings, models, scanners), and only those few are split and compared. Grouping sets, one
    small hash table per column (10M rows, 7 columns: about 1 s on two cores; the extra
    columns' values parsed from ``extra`` once a row); a file of more than
    :data:`_GROUPING_SETS` extra columns has theirs in one hash table of (column, value) pairs
    instead, whose memory does not grow with the number of columns.
    """
    con.execute("drop table if exists _held")
    targets = _held_targets(kind, source, settings, stored)
    names = [source.header_names[c] for c in source.extras] if headers else []
    if not targets and not names:
        return (), ()
    plain = [t for t in targets if t.pointer is None]
    extras = [t for t in targets if t.pointer is not None]
    pointers = ", ".join(literal(str(t.pointer)) for t in extras)
    rows = "select * from _checked where _ok"
    if extras:  # each row's extra parsed once: __e, the values of its columns in order
        rows = f"select *, json_extract_string(extra, [{pointers}]) as __e from _checked where _ok"
    exprs = [t.sql for t in plain]
    if len(targets) <= _GROUPING_SETS:
        exprs += [f"__e[{k}]" for k in range(1, len(extras) + 1)]
    parts = []
    if exprs:
        cols = [f"__h{i}" for i in range(len(exprs))]
        inner = ", ".join(f"{sql} as {col}" for sql, col in zip(exprs, cols, strict=True))
        position = f"list_position([{', '.join(f'{c} is not null' for c in cols)}], true) - 1"
        parts.append(
            f"select {position} as i, coalesce({', '.join(cols)}) as v from ("
            f"select {', '.join(cols)} from (select {inner} from ({rows})) "
            f"group by grouping sets ({', '.join(f'({c})' for c in cols)}))"
        )
    if len(targets) > _GROUPING_SETS and extras:
        parts.append(
            f"select unnest(range({len(plain)}, {len(targets)})) as i, unnest(__e) as v "
            f"from ({rows})"
        )
    if names:  # the extra columns' names, as the header writes them: i = -1, -2, ...
        listed = ", ".join(literal(n) for n in names)
        parts.append(f"select -unnest(range(1, {len(names) + 1})) as i, unnest([{listed}]) as v")
    if not find_held_ids(con, " union all ".join(parts), own_ids(con), params):
        return (), ()
    found = {i for (i,) in con.execute("select distinct i from _held").fetchall()}
    named = tuple(c for k, c in enumerate(source.extras) if -1 - k in found)
    held = tuple(
        (t.name, f"{t.sql} in (select v from _held where i = {i})", t.what)
        for i, t in enumerate(targets)
        if i in found
    )
    return held, named
