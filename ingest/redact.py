"""Patient and reader ids found in the other columns of quarantined rows, hidden.

A quarantined row keeps its values (``quarantine.raw``) and its reason quotes the value at fault
(``column 'site' is '...'``), so that a data manager can mend the file. Its own patient and
reader ids are never kept (their pseudonyms are). But an id can sit in another column: a site's
export that put the MRN where the site goes, a spreadsheet pasted one column off, two headers
swapped, an extra column. Such a value is not recognisable by its column, only by being an id:
this module hides, in the quarantined rows of one batch, every value that is or holds

- one of the patient or reader ids of the same file (the file's own ``patient_id`` /
  ``reader_id`` column, any row), or
- an id the store already knows: its pseudonym is a stored patient's or reader's.

The value is replaced by :data:`HIDDEN` in ``raw`` and in the reason. Values and ids are
compared folded to half-width (:func:`ingest.pseudonym.fold_id`), as ids are before they are
hashed: ＭＲＮ－００１２ in a comment is the file's patient MRN-0012, and the reverse.

A row that would load is searched too (:func:`find_held_ids`), on the distinct values of its text
columns and extra columns, which are few: one holding an id is quarantined instead
(:func:`ingest.load._mark_held_ids`), and the id then hidden there as above. An extra column
whose *name* is or holds an id is not stored, and no message names it.

A file's name is stored with each batch and shown on Data health; :func:`shown_name` hides an id
in it the same way.
"""

from __future__ import annotations

import re

import duckdb

from ingest.contract import CONTRACTS
from ingest.pseudonym import fold_id, fold_id_sql
from ingest.readers import literal
from ingest.validate import pseudonym_sql

HIDDEN = "(a patient or reader id; not shown)"
ID_MARK = "<id>"

# Ids shorter than this are not looked for: reader ids 1, 2, 3 would hide every label and rating,
# and P1 the p1 of p1.csv. Hospital MRNs and staff ids are longer.
SHORTEST = 4
_LONGEST = 64  # the longest id looked for inside a file name
# A person's name written as DICOM writes one (PS3.5 PN: YAMADA^TARO, YAMADA^TARO=山田^太郎), as
# some exports name a patient's file or folder ("12345 YAMADA^TARO.csv"): the whole word (up to a
# blank, a path separator or the extension's dot) is not shown, as DICOM ingest hides such a folder.
PERSON_NAME = re.compile(
    r"[^\s/\\.]*[^\W\d_]\^[^\W\d_][^\s/\\.]*|[^\s/\\.]*[^\W\d_]\^(?=[\s/\\.]|$)"
)
NAME_MARK = "<name>"

# Every id column is read the same way (trimmed, '123.0' as 123), so the patient_id rule serves
_AS_ID = next(c for c in CONTRACTS["predictions"] if c.name == "patient_id").typed_sql

# What separates the ids in a value, in three ways: anything but letters, digits and . - _
# (MRN-000111, 12345.0), and also - only (MRN-000111_old), and anything but letters and digits
# (MRN0020001.pdf, old-MRN0020001). A JSON Lines object or list, a Parquet struct and
# "MRN0012345 (old)" are searched by part; an id glued to letters (xMRN0020001) is not found.
_SPLITS = (r"[^\p{L}\p{N}._\-]+", r"[^\p{L}\p{N}\-]+", r"[^\p{L}\p{N}]+")

# Words that exports write where an id is unknown or is not a person's (an unidentified trauma
# patient's UNKNOWN, a consensus panel's reader CONSENSUS), and a character repeated (XXXX, 0000).
# Such an id is pseudonymised like any other, but it is not looked for in other values: once
# stored, every later 'unknown' body part, 'Consensus-AI' model or 'reason unknown' comment
# would be quarantined as holding an id (a tester).
PLACEHOLDER_IDS = (
    "unknown", "unkn", "anonymous", "anon", "anonymized", "anonymised", "none", "null", "test",
    "consensus", "adjudicator", "adjudication", "panel", "default", "other", "noname", "nobody",
    "dummy", "temp", "patient", "reader", "radiologist", "doctor", "system", "admin", "missing",
    "unidentified", "trauma", "emergency", "pending", "notavailable",
)  # fmt: skip


def _placeholder_sql(id_sql: str) -> str:
    """SQL: whether an id (``id_sql``) is a placeholder (:data:`PLACEHOLDER_IDS`)."""
    words = ", ".join(f"'{w}'" for w in PLACEHOLDER_IDS)
    return f"(lower({id_sql}) in ({words}) or length(replace({id_sql}, left({id_sql}, 1), '')) = 0)"


def is_placeholder(identifier: str) -> bool:
    """:func:`_placeholder_sql` in Python."""
    return identifier.lower() in PLACEHOLDER_IDS or identifier == identifier[:1] * len(identifier)


# The pseudonyms the store holds, of patients and of readers
_STORED = "select patient_pid from studies union all select reader_pid from reads"


def _own(own_ids: str | None) -> str:
    return own_ids or "select null::varchar as id where false"


def _parts_sql(values: str, keep: str) -> str:
    """SELECT of ``keep`` (columns of ``values``), ``id``: each value ``v`` of ``values`` folded
    to half-width (:func:`ingest.pseudonym.fold_id_sql`, as an id is before it is hashed: ＰＡＴ１２６
    is PAT126) and read as an id, and each of its parts (:data:`_SPLITS`), of :data:`SHORTEST`
    characters or more. The values are few and distinct: folding them costs nothing."""
    splits = ", ".join(f"regexp_split_to_array(__f, '{split}')" for split in _SPLITS)
    folded = f"select {keep}, {fold_id_sql('v')} as __f from ({values})"
    return f"""
        select * from (
            select {keep}, {_AS_ID("__f")} as id from ({folded})
            union
            select {keep}, {_AS_ID("part")} as id
            from (select {keep}, unnest(list_concat({splits})) as part from ({folded}))
        )
        where len(id) >= {SHORTEST} and not {_placeholder_sql("id")}
    """


def _own_folded(column: str) -> str:
    """SQL of an own id (``column``) folded to half-width and in lower case, as a candidate of
    :func:`_parts_sql` is compared with it. Every row's id is folded, but an id of ASCII
    characters only (nearly all) pays one test of its length (fold_id_sql)."""
    return f"lower({fold_id_sql(column)})"


def find_held_ids(
    con: duckdb.DuckDBPyConnection,
    values: str,
    own_ids: str | None,
    pads: dict[str, object],
) -> bool:
    """Temp table ``_held (i, v, id)``: of the values ``v`` of the SELECT ``values`` (columns
    ``i``, an integer naming where the value is, and ``v``, text; distinct, and few), those that
    are or hold an id, and the id (or part) they hold; return whether there are any.

    An id is found as in :func:`hide_ids`: a value or one of its parts (:data:`_SPLITS`) of
    :data:`SHORTEST` characters or more that is one of the file's own ids (``own_ids``, a
    SELECT of column ``id``), ignoring case and width (ＰＡＴ１２６ is PAT126), or whose
    pseudonym the store holds, as written, in upper or in lower case (the values are few: three
    hashes each cost nothing). ``pads``
    holds the HMAC pads (:func:`ingest.validate.pseudonym_sql`); ``values`` takes no parameter.

    The own ids are read once (the file's patient and reader ids, every row: 10M at 10M rows)
    and probe the few candidates' lower-case forms, a join built on the candidates.
    """
    con.execute(
        f"create or replace temp table _held_values as select distinct i, v from ({values}) "
        "where v is not null"
    )
    con.execute(
        f"""
        create or replace temp table _held as
        with candidates as ({_parts_sql("select * from _held_values", "i, v")}),
        ids as (select distinct id from candidates),
        variants as (
            select id, {pseudonym_sql("variant")} as pid
            from (select id, unnest(list_distinct([id, upper(id), lower(id)])) as variant
                  from ids)
        ),
        found as (
            select c.id from ids c join ({_own(own_ids)}) o on lower(c.id) = {_own_folded("o.id")}
            union
            select v.id from variants v join ({_STORED}) s on s.patient_pid = v.pid
        )
        select c.i, c.v, c.id from candidates c semi join found using (id)
        """,
        {k: pads[k] for k in ("ipad", "opad")},
    )
    con.execute("drop table _held_values")
    return not con.execute("select not exists (select 1 from _held)").fetchall()[0][0]


def hide_ids(
    con: duckdb.DuckDBPyConnection, batch_id: int, own_ids: str | None, pads: dict[str, bytes]
) -> int:
    """Hide the ids in the quarantined rows of batch ``batch_id``; return how many values.

    ``own_ids``: a SELECT of column ``id``, the file's own raw ids (from temp table ``_checked``),
    or None; ``pads``: the HMAC key pads of :func:`ingest.validate.pseudonym_sql`. Must run
    inside the batch's transaction, after its quarantine rows are inserted.

    A value is hidden whole when it, or one of its parts (:data:`_SPLITS`), of
    :data:`SHORTEST` characters or more, is an own id (ignoring case) or has the pseudonym of a
    stored one (as written: hashing each part in three cases would double the cost of a file
    of bad rows, and an id typed in another case in another column is rare). The pseudonyms
    ``raw`` holds are searched too: no id has one as its pseudonym, and an extra column may bear
    their name.
    """
    # each bad row's (key, value) pairs, the value as json_object wrote it (jv) and as the
    # reason quotes it (v); json_each, as a row may hold a key twice (an extra column named
    # like a pseudonym)
    values = """
        select q.rowid as qrow, j.key, j.value as jv,
               case when j.type = 'VARCHAR' then j.value ->> '$' else j.value::varchar end as v
        from quarantine q, json_each(q.raw) j
        where q.batch_id = $batch_id and j.type not in ('NULL', 'BOOLEAN')
    """
    # first the distinct values holding an id (each part hashed once), then the
    # rows holding them: two reads of the bad rows, no temp table of every (row, column) value
    con.execute(
        f"""
        create or replace temp table _id_values as
        with distinct_values as (select distinct v from ({values})),
        candidates as ({_parts_sql("select * from distinct_values", "v")})
        select c.v from candidates c
        semi join ({_own(own_ids)}) o on {_own_folded("o.id")} = lower(c.id)
        union
        select v from candidates where {pseudonym_sql("id")} in ({_STORED})
        """,
        {"batch_id": batch_id, **pads},
    )
    [(any_id,)] = con.execute("select exists (select 1 from _id_values)").fetchall()
    if not any_id:  # the usual case: no second read of the bad rows
        con.execute("drop table _id_values")
        return 0
    con.execute(
        f"""
        create or replace temp table _hits as
        select qrow, list(struct_pack(key := key, jv := jv, v := v)) as hits
        from ({values}) semi join _id_values using (v)
        group by qrow
        """,
        {"batch_id": batch_id},
    )
    [(found,)] = con.execute("select coalesce(sum(len(hits)), 0) from _hits").fetchall()
    if found:
        # raw: each pair as json_object wrote it ("key":value) with its value replaced; the
        # reason quotes the value as problems_sql shows it: its first 60 characters
        pair = "to_json(x.key)::varchar || ':' || x.jv::varchar"
        hidden_pair = f"to_json(x.key)::varchar || ':' || to_json({literal(HIDDEN)})::varchar"
        quoted = "'column ''' || x.key || ''' is ''' || left(x.v, 60) || ''''"
        hidden = "'column ''' || x.key || ''' holds a patient or reader id (not shown)'"
        con.execute(
            f"""
            update quarantine set
                raw = list_reduce(
                    h.hits, lambda acc, x: replace(acc, {pair}, {hidden_pair}), raw::varchar
                )::json,
                reason = list_reduce(
                    h.hits, lambda acc, x: replace(acc, {quoted}, {hidden}), reason
                )
            from _hits h
            where quarantine.rowid = h.qrow
            """
        )
    con.execute("drop table _hits")
    con.execute("drop table _id_values")
    return int(found)


def shown_name(
    con: duckdb.DuckDBPyConnection,
    text: str,
    pads: dict[str, bytes],
    own_ids: str | None = None,
    params: dict[str, object] | None = None,
    also_known: str | None = None,
) -> str:
    """``text`` (a file's name or path) as ingest stores and shows it: each id in it of
    :data:`SHORTEST` characters or more replaced by ``<id>``. An export named after its one
    patient (``preds-MRN0012345.csv``) or reader (``reads_DR-SATO-12.csv``) would otherwise keep
    the id in the batch history and show it on Data health.

    An id is found as in :func:`hide_ids`: one of the file's own ids (``own_ids``, a SELECT of
    column ``id``, run with ``params``; anywhere in the text, ignoring case and width), or a part
    of the text (any run of up to 64 characters: ``検査MRN0055555.csv``, ``MRN0055555preds.csv``)
    whose pseudonym the store holds (as written, in upper or in lower case), or that
    ``also_known`` (a SELECT of pseudonyms) gives. A run of digits is never cut in two: of
    ``preds_20261014.csv`` the patient 261014 is not hidden, nor the date taken for an id.
    A person's name in DICOM's form (``YAMADA^TARO``, :data:`PERSON_NAME`) becomes ``<name>``.
    """
    found: list[str] = []
    if own_ids:
        found += [
            row[0]
            for row in con.execute(
                f"select distinct id from ({own_ids}) "
                f"where len(id) >= {SHORTEST} "
                f"and contains(lower($text), {_own_folded('id')})",
                {**(params or {}), "text": fold_id(text)},
            ).fetchall()
        ]
    runs = {
        text[i:j]
        for i in range(len(text))
        for j in range(i + SHORTEST, min(len(text), i + _LONGEST) + 1)
        if text[i:j].strip() == text[i:j]  # an id has no blank at its ends
        and not is_placeholder(text[i:j])
        and not (i > 0 and text[i - 1].isdigit() and text[i].isdigit())
        and not (j < len(text) and text[j].isdigit() and text[j - 1].isdigit())
    }
    known = _STORED + (f" union all {also_known}" if also_known else "")
    if runs:
        found += [
            row[0]
            for row in con.execute(
                f"""
                select distinct run from (
                    select run, unnest(list_distinct([run, upper(run), lower(run)])) as variant
                    from (select unnest($runs::varchar[]) as run)
                )
                where {pseudonym_sql("variant")} in ({known})
                """,
                {"runs": sorted(runs), **pads},
            ).fetchall()
        ]
    for value in sorted(found, key=len, reverse=True):  # the longest first: it may hold others
        edges = (r"(?<!\d)" if value[0].isdigit() else "", r"(?!\d)" if value[-1].isdigit() else "")
        pattern = re.compile(edges[0] + re.escape(fold_id(value)) + edges[1], re.IGNORECASE)
        # found in the text folded to half-width, and replaced in the text as written: folding
        # keeps each character's place (one for one)
        spans = [m.span() for m in pattern.finditer(fold_id(text))]
        for start, end in reversed(spans):
            text = text[:start] + ID_MARK + text[end:]
    return PERSON_NAME.sub(NAME_MARK, text)
