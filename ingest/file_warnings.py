"""Warnings about a file whose rows load as sent but may not mean what they say.

Each function returns the parts of the batch message (none when all is well); nothing is changed.
Of a predictions file:

- :func:`numeric_version`: ``model_version`` written as a number (a JSON Lines number, a Parquet
  float column). DuckDB reads the number, so ``2.10`` is stored as ``2.1`` and the same studies
  then hold predictions under ``2.10`` (from a CSV file) and ``2.1``. The written token cannot be
  recovered cheaply, so the file is named, not mended.
- :func:`scientific_version`: ``model_version`` in scientific notation (``2.1E+00``, as Excel
  shows 2.1 in a cell formatted so), stored as written, with the version likely meant.
- :func:`threshold_notes`: rows whose ``predicted`` disagrees with ``score >= threshold`` (kept as
  sent: the vendor's binarisation may differ), and rows without a threshold beside rows that give
  their own, with what they took: radqa.toml's operating point (its value) or the default 0.5.

Of a reads file:

- :func:`rating_scales`: ratings on two scales (some readers 1-5, others 0-100), which the ROC
  and reader-study statistics would mix.

They run after the checking pass, over temp table ``_checked``
(:func:`ingest.validate.checked_sql`) and the file's schema or first lines: no pass over a large
file.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import duckdb

from ingest.readers import Source, _lines_sql, _pointer, literal
from radqa.settings import Settings

# The first lines of a JSON Lines file that are read to see how model_version is written
SAMPLED_LINES = 1000

# DuckDB's types of a number that is not whole: a float column's or a JSON number's with a point
_FLOATS = ("FLOAT", "DOUBLE")


def notes(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: Source,
    settings: Settings | None = None,
    name: str = "this file",
) -> str:
    """The warnings of this module for a batch message, each after '; ' ('': none).
    ``settings``: radqa.toml's, whose operating points the rows
    without a threshold take (None: none set); ``name``: the file's as the message shows it
    (without a patient's or reader's id: :func:`ingest.redact.shown_name`)."""
    if kind == "reads":
        return "".join(f"; {part}" for part in rating_scales(con, source))
    if kind != "predictions":
        return ""
    points = settings.operating_points if settings is not None else {}
    parts = [
        *numeric_version(con, source),
        *scientific_version(con, name),
        *threshold_notes(con, source, points),
    ]
    return "".join(f"; {part}" for part in parts)


def numeric_version(con: duckdb.DuckDBPyConnection, source: Source) -> list[str]:
    """A warning when ``model_version`` is written as a number that is not whole: of a Parquet
    file, as its schema says (free); of a JSON Lines file, in its first :data:`SAMPLED_LINES`
    lines (a file that starts with text versions and turns to numbers later is not seen, nor is
    one in an encoding DuckDB does not read, such as Shift-JIS). A CSV
    file's values are text as written. A whole number (``3``) reads as written, as it does from a
    CSV file."""
    kind = _version_type(con, source)
    if kind is None:
        return []
    [(example,)] = con.execute("select min(model_version) from _checked").fetchall()
    shown = f" ({example})" if example is not None else ""
    if kind.startswith("DECIMAL"):  # every version gets the column's decimal places
        lost = "a number does not keep the version as written (2.1 and 2.10 are one number)"
    else:
        lost = "a version such as 2.10 reads as 2.1"
    return [
        f"model_version is written as a number in this file{shown}: {lost}; write versions as "
        f'text ("2.10")'
    ]


def _version_type(con: duckdb.DuckDBPyConnection, source: Source) -> str | None:
    """DuckDB's type of the file's ``model_version`` numbers that are not whole (a float,
    a decimal); None when it has none, or is not Parquet or JSON Lines."""
    if "model_version" not in source.lowered:
        return None
    # on a cursor of its own: a file that cannot be read (gone since, in another encoding) must
    # not abort the batch's transaction, as an error on ``con`` would
    cursor = con.cursor()
    try:
        if source.fmt == "parquet":
            [(_, kind, *_)] = cursor.execute(
                f"describe select {source.ref('model_version')} from ({source.scan_sql()})",
                source.params,
            ).fetchall()
            return str(kind) if kind in _FLOATS or str(kind).startswith("DECIMAL") else None
        if source.fmt != "jsonl":
            return None
        key = next(c for c in source.columns if c.strip().lower() == "model_version")
        lines = _lines_sql(parallel=False, compression=source.compression)
        # a file in another encoding was read from a UTF-8 copy, removed once read: the file
        # itself then, whose lines DuckDB may not read (Shift-JIS text): not sampled
        copy = source.read_from
        path = copy if copy is not None and copy.exists() else source.path
        [(numbers,)] = cursor.execute(
            f"""
            select count(*) filter (where try(json_type(line, {literal(_pointer(key))})) = 'DOUBLE')
            from (select line from {lines} limit {SAMPLED_LINES})
            """,
            {"path": str(path)},
        ).fetchall()
        return "DOUBLE" if numbers else None
    except duckdb.Error:
        return None
    finally:
        cursor.close()


# A number as Excel (or R) shows it in scientific notation: 2.1E+00, 1.00E+01, 3e+00. The sign
# is required: a version or short commit hash such as 3e4 or 1234e56 is not taken for one.
SCIENTIFIC = r"[+-]?[0-9]+(\.[0-9]+)?[eE][+-][0-9]+"

# The scientific versions named in the warning before the rest are counted
NAMED_VERSIONS = 3


def scientific_version(con: duckdb.DuckDBPyConnection, name: str = "this file") -> list[str]:
    """A warning when accepted rows give a ``model_version`` in scientific notation
    (:data:`SCIENTIFIC`), as Excel shows a number in a cell it formats so and then writes to a
    CSV file: ``2.1E+00`` is stored as written, beside ``2.1`` from other files. Each such
    version is named with the version the exporter likely meant (``'2.1'``: the number, without
    the format's zeros). The regular expression runs over the batch's distinct versions (few), in
    one query over ``_checked``."""
    found = con.execute(
        f"""
        select model_version, n from (
            select model_version, count(*) as n from _checked where _ok group by all
        )
        where regexp_full_match(model_version, {literal(SCIENTIFIC)})
        order by n desc, model_version
        """
    ).fetchall()
    if not found:
        return []
    total = sum(n for _, n in found)
    shown = [
        f"{version}{f' in {n:,}' if len(found) > 1 else ''}, likely '{_meant(version)}'"
        for version, n in found[:NAMED_VERSIONS]
    ]
    if len(found) > NAMED_VERSIONS:
        shown.append(f"and {len(found) - NAMED_VERSIONS} more")
    rows = "1 row" if total == 1 else f"{total:,} rows"
    return [
        f"model_version is in scientific notation in {rows} of {name} ({'; '.join(shown)}), as "
        "Excel shows a number: stored as written; format the column as text before saving"
    ]


def _meant(version: str) -> str:
    """The version a number in scientific notation likely stood for: '2.1E+00' -> '2.1',
    '1.00E+01' -> '10', '3.0E+00' -> '3' (a number beyond ten digits keeps its exponent)."""
    number = Decimal(version).normalize()
    return format(number, "f" if abs(number.adjusted()) < 10 else "")


def threshold_notes(
    con: duckdb.DuckDBPyConnection, source: Source, points: Mapping[str, float] | None = None
) -> list[str]:
    """Of the file's accepted rows: how many give a ``predicted`` that disagrees with their own
    ``score >= threshold`` (kept as sent: a vendor may binarise otherwise, and a row without a
    threshold is not judged, as the threshold it used is not known); and how many give no
    threshold while other rows of the file give one, and what those took: the operating point of
    radqa.toml (``points``, ``"model_name/finding"`` to threshold, as
    :func:`ingest.validate.rows_sql` applies them) or the default 0.5, named by model_name/finding
    (:func:`_taken`). One aggregate over ``_checked``, and one by model_name/finding of the rows
    without a threshold when there are such, only when the file has a threshold column (its
    values as ``_f_threshold``, ``_f_predicted``: see :func:`ingest.validate.checked_sql`)."""
    if "threshold" not in source.lowered:
        return []
    called = "predicted" in source.lowered
    against = "_f_predicted <> (score >= _f_threshold)" if called else "false"
    [(disagree, without, given)] = con.execute(
        f"""
        select count(*) filter (where {against}), count(*) filter (where _f_threshold is null),
               count(*) filter (where _f_threshold is not null)
        from _checked where _ok
        """
    ).fetchall()
    parts = []
    if disagree:
        parts.append(
            f"{_rows(disagree)} a predicted that disagrees with score >= threshold (kept as sent)"
        )
    if without and given:
        groups = con.execute(
            f"""
            select model_name, finding, count(*),
                   count(*) filter (where {"_f_predicted is not null" if called else "false"})
            from _checked where _ok and _f_threshold is null
            group by all order by 3 desc, 1, 2
            """
        ).fetchall()
        calls = sum(g[3] for g in groups)
        own = f" ({calls:,} with a predicted call of their own)" if calls else ""
        if calls and without == 1:
            own = " (with a predicted call of its own)"
        other = "gives its own" if given == 1 else "give their own"
        parts.append(
            f"{_rows(without)} no threshold{own}{_taken(groups, points or {})}, while "
            f"{given:,} row{'' if given == 1 else 's'} {other}"
        )
    return parts


# Model_name/finding pairs named in the threshold warning before they are counted instead
NAMED_PAIRS = 3


def _taken(groups: list[tuple[str, str, int, int]], points: Mapping[str, float]) -> str:
    """What the rows without a threshold took, after '... give no threshold': ' and take 0.5
    (no operating point set for chexnet/pneumothorax)', or, when some took an operating point
    and others 0.5, ': 1,000 take 0.3 (...) and 204 take 0.5 (...)'. ``groups``: (model_name,
    finding, rows, rows with a predicted) by rows, most first."""
    configured = [
        (f"{m}/{f}", n, points[f"{m}/{f}"]) for m, f, n, _ in groups if f"{m}/{f}" in points
    ]
    default = [(f"{m}/{f}", n) for m, f, n, _ in groups if f"{m}/{f}" not in points]
    clauses = []
    if configured:
        values = sorted({v for _, _, v in configured})
        if len(values) == 1:
            named = _pairs([k for k, _, _ in configured])
            what = f"{_value(values[0])} (radqa.toml's operating point for {named})"
        elif len(configured) <= NAMED_PAIRS:
            each = ", ".join(f"{_value(v)} for {k}" for k, _, v in configured)
            what = f"radqa.toml's operating points ({each})"
        else:
            what = (
                f"radqa.toml's operating points ({_value(values[0])} to {_value(values[-1])} for "
                f"{len(configured)} model_name/finding pairs)"
            )
        clauses.append((sum(n for _, n, _ in configured), what))
    if default:
        clauses.append(
            (
                sum(n for _, n in default),
                f"0.5 (no operating point set for {_pairs([k for k, _ in default])})",
            )
        )
    if len(clauses) == 1:
        n, what = clauses[0]
        return f" and {'takes' if n == 1 else 'take'} {what}"
    return ": " + " and ".join(
        f"{n:,} {'takes' if n == 1 else 'take'} {what}" for n, what in clauses
    )


def _pairs(names: list[str]) -> str:
    """'a/x', 'a/x, b/y and c/z', or 'a/x, b/y and 3 more model_name/finding pairs'."""
    if len(names) <= NAMED_PAIRS:
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    shown = NAMED_PAIRS - 1
    return f"{', '.join(names[:shown])} and {len(names) - shown} more model_name/finding pairs"


def _value(threshold: float) -> str:
    """A threshold as radqa.toml gives it: 0.3, 0.35."""
    return repr(float(threshold))


# The highest rating of a reader on a small scale (1-5, 0-10); above it, a scale such as 0-100
SMALL_SCALE_TOP = 10


def rating_scales(con: duckdb.DuckDBPyConnection, source: Source) -> list[str]:
    """A warning when a reads file's ratings look like two scales: some readers' highest rating
    is :data:`SMALL_SCALE_TOP` or less (1-5, 0-10) while others' is above it (0-100). The ROC
    and reader-study statistics would then rank a 5 of one reader below a 50 of another. Readers
    are counted, never named (their ids are pseudonymised), with each group's range. One
    aggregate over ``_checked``'s accepted rows that give a rating; nothing is changed."""
    if "rating" not in source.lowered:
        return []
    [(small, small_lo, small_hi, large, large_lo, large_hi)] = con.execute(
        """
        with readers as (
            select _id_reader_id, min(rating) as lo, max(rating) as hi
            from _checked where _ok and rating is not null
            group by all
        )
        select count(*) filter (where hi <= $top), min(lo) filter (where hi <= $top),
               max(hi) filter (where hi <= $top), count(*) filter (where hi > $top),
               min(lo) filter (where hi > $top), max(hi) filter (where hi > $top)
        from readers
        """,
        {"top": SMALL_SCALE_TOP},
    ).fetchall()
    if not (small and large):
        return []
    return [
        f"ratings look like two scales: {_readers(small)} from {_number(small_lo)} to "
        f"{_number(small_hi)}, {_readers(large)} from {_number(large_lo)} to "
        f"{_number(large_hi)}; ROC and reader-study statistics would mix them (kept as sent): "
        "put every reader's ratings on one scale and send the file again"
    ]


def _readers(n: int) -> str:
    """'1 reader rates', '12 readers rate'."""
    return "1 reader rates" if n == 1 else f"{n:,} readers rate"


def _number(x: float) -> str:
    """A rating as written: 5, 100, 2.5, 1,000."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.6g}"


def _rows(n: int, of: str = "") -> str:
    """'1 row gives', '3 rows give' (``of`` between the rows and the verb)."""
    return f"{n} row {of}gives" if n == 1 else f"{n:,} rows {of}give"
