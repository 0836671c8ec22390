"""Patient and reader ids found in the other columns of quarantined rows, hidden.

A quarantined row keeps its values (``quarantine.raw``) and its reason quotes the value at fault
(``column 'site' is '...'``), so that a data manager can mend the file. Its own patient and
reader ids are never kept (their pseudonyms are). But an id can sit in another column: a site's
export that put the MRN where the site goes, a spreadsheet pasted one column off, two headers
swapped. Such a value is not recognisable by its column, only by being an id: this module hides,
in the quarantined rows of one batch, every value that is

- one of the patient or reader ids of the same file (the file's own ``patient_id`` /
  ``reader_id`` column, any row), or
- an id the store already knows: its pseudonym is a stored patient's or reader's.

The value is replaced by :data:`HIDDEN` in ``raw`` and in the reason. Only the batch's bad rows
are searched (a few, usually); values of rows that load are stored where the file put them.

A file's name is stored with each batch and shown on Data health; :func:`shown_name` hides an id
in it the same way.
"""

from __future__ import annotations

import re

import duckdb

from ingest.contract import CONTRACTS
from ingest.readers import literal
from ingest.validate import IDENTIFIERS, pseudonym_sql

HIDDEN = "(a patient or reader id; not shown)"

# Every id column is read the same way (trimmed, '123.0' as 123), so the patient_id rule serves
_AS_ID = next(c for c in CONTRACTS["predictions"] if c.name == "patient_id").typed_sql


def hide_ids(
    con: duckdb.DuckDBPyConnection, batch_id: int, file_ids: list[str], pads: dict[str, bytes]
) -> int:
    """Hide the ids in the quarantined rows of batch ``batch_id``; return how many values.

    ``file_ids``: the columns of temp table ``_checked`` that hold the file's raw ids
    (``"_id_patient_id"``); ``pads``: the HMAC key pads of :func:`ingest.validate.pseudonym_sql`.
    Must run inside the batch's transaction, after its quarantine rows are inserted.
    """
    own = " union ".join(f"select {c} as id from _checked" for c in file_ids) or (
        "select null::varchar as id where false"
    )
    # each bad row's values but its pseudonyms, as (key, v) rows: a MAP cast reads the JSON
    # object in one pass (half the time of json_keys + json_extract_string per key)
    pseudonyms = ", ".join(f"'{p}'" for p in sorted(IDENTIFIERS.values()))
    values = """
        select rowid as qrow, unnest(map_keys(m)) as key, unnest(map_values(m)) as v
        from (select rowid, cast(raw as map(varchar, varchar)) as m
              from quarantine where batch_id = $batch_id)
    """
    # first the distinct values that are ids (each hashed once), then the rows holding them:
    # two reads of the bad rows, no temp table of every (row, column) value
    con.execute(
        f"""
        create or replace temp table _id_values as
        with candidates as (
            select v, {_AS_ID("v")} as id
            from (select distinct v from ({values}) where key not in ({pseudonyms}))
            where {_AS_ID("v")} is not null
        )
        select c.v from candidates c semi join ({own}) o on o.id = c.id
        union
        select c.v from candidates c
        where {pseudonym_sql("c.id")} in (
            select patient_pid from studies union all select reader_pid from reads
        )
        """,
        {"batch_id": batch_id, **pads},
    )
    con.execute(
        f"""
        create or replace temp table _hits as
        select qrow, list(struct_pack(key := key, v := v)) as hits
        from ({values}) semi join _id_values using (v)
        where key not in ({pseudonyms})
        group by qrow
        """,
        {"batch_id": batch_id},
    )
    [(found,)] = con.execute("select coalesce(sum(len(hits)), 0) from _hits").fetchall()
    if found:
        # the reason quotes the value as problems_sql shows it: its first 60 characters
        quoted = "'column ''' || x.key || ''' is ''' || left(x.v, 60) || ''''"
        hidden = "'column ''' || x.key || ''' holds a patient or reader id (not shown)'"
        con.execute(
            f"""
            update quarantine set
                raw = to_json(map_from_entries(list_transform(
                    map_entries(cast(raw as map(varchar, json))),
                    lambda e: case when list_contains(list_transform(h.hits, lambda x: x.key), e.key)
                                   then struct_pack(key := e.key, value := to_json({literal(HIDDEN)}))
                                   else e end))),
                reason = list_reduce(h.hits, lambda acc, x: replace(acc, {quoted}, {hidden}), reason)
            from _hits h
            where quarantine.rowid = h.qrow
            """
        )
    con.execute("drop table _hits")
    con.execute("drop table _id_values")
    return int(found)


ID_MARK = "<id>"
_SEPARATED = re.compile(r"([\W_]+)")  # a file name's words and what separates them
_SHORTEST = 4  # shorter ids (P1, 17) would hide parts of ordinary names (p1.csv, batch_17)


def shown_name(
    con: duckdb.DuckDBPyConnection,
    name: str,
    pads: dict[str, bytes],
    file_ids: list[str] | None = None,
) -> str:
    """``name``, a file's name as ingest stores and shows it: each part of it that is a patient's
    or reader's id (of 4 characters or more) replaced by ``<id>``. An export named after its one
    patient (``preds-MRN0012345.csv``) or reader (``reads_DR-SATO-12.csv``) would otherwise keep
    the id in the batch history and show it on Data health.

    An id is found as in :func:`hide_ids`: one of the file's own ids (``file_ids``, columns of
    ``_checked``; anywhere in the name, ignoring case), or a run of the name's words whose
    pseudonym the store holds (as written, in upper or in lower case).
    """
    found: list[str] = []
    if file_ids:
        own = " union ".join(f"select {c} as id from _checked" for c in file_ids)
        found += [
            row[0]
            for row in con.execute(
                f"select distinct id from ({own}) "
                f"where len(id) >= {_SHORTEST} and contains(lower($name), lower(id))",
                {"name": name},
            ).fetchall()
        ]
    parts = _SEPARATED.split(name)  # words at even places, separators between them
    runs = {
        "".join(parts[i : j + 1])
        for i in range(0, len(parts), 2)
        for j in range(i, min(len(parts), i + 12), 2)
    }
    # ids are matched as written, but a file name may change their case
    runs = {v for r in runs if len(r.strip()) >= _SHORTEST for v in (r, r.upper(), r.lower())}
    if runs:
        found += [
            row[0]
            for row in con.execute(
                f"""
                select run from (select unnest($runs::varchar[]) as run)
                where {pseudonym_sql(_AS_ID("run"))} in (
                    select patient_pid from studies union all select reader_pid from reads
                )
                """,
                {"runs": sorted(runs), **pads},
            ).fetchall()
        ]
    for value in sorted(found, key=len, reverse=True):  # the longest first: it may hold others
        name = re.sub(re.escape(value), ID_MARK, name, flags=re.IGNORECASE)
    return name
