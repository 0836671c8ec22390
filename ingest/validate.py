"""SQL that types and checks every row of an input file in one pass (no Python loop over rows).

Pass 1 (:func:`checked_sql`) yields typed columns, an ``_ok`` flag and, for bad rows only, the raw
values as JSON. Pass 2 (:func:`problems_sql`) runs over the bad rows alone and words each rule
they break, so the cost of good messages is paid only where there are bad rows.
"""

from __future__ import annotations

from collections.abc import Collection

from ingest.contract import (
    MAX_TEXT,
    NATURAL_KEYS,
    STUDY_FROM_PREDICTIONS,
    Column,
    am_pm_sql,
    names_a_person,
    worded_time_sql,
)
from ingest.pseudonym import fold_id_sql
from ingest.readers import Source, literal
from radqa.settings import Settings

IDENTIFIERS = {"patient_id": "patient_pid", "reader_id": "reader_pid"}

# A bad row's patient or reader id in scientific notation (1.23E+07), in its values instead of a
# pseudonym: Excel's rounding of a long id, which stands for several patients (never kept)
SCIENTIFIC = "(a number in scientific notation; not shown)"


def q(name: str) -> str:
    """Quote an identifier."""
    return '"' + name.replace('"', '""') + '"'


def pseudonym_sql(expr: str) -> str:
    """HMAC-SHA256 in SQL, keyed by parameters $ipad / $opad: sha256(opad || sha256(ipad || m)),
    of the id folded to half-width (:func:`ingest.pseudonym.fold_id_sql`: ＰＡＴ１２６ is PAT126)
    and trimmed; :func:`ingest.pseudonym.pseudonymise` gives the same for a trimmed id."""
    text = f"nullif(trim({fold_id_sql(expr)}), '')"
    return f"left(sha256($opad || unhex(sha256($ipad || encode({text})))), 24)"


def _empty(raw: str) -> str:
    return f"({raw} is null or trim(cast({raw} as varchar)) = '')"


def _valid(col: Column, ordered: bool) -> str:
    """True when the column's value meets its rule (absent optional values are fine)."""
    typed = q(f"__t_{col.name}")
    ok = f"({typed} is not null and {col.valid_sql(typed, ordered=ordered)})"
    return ok if col.required else f"({ok} or {_empty(q(col.name))})"


def _computed(kind: str, settings: Settings) -> tuple[list[str], dict[str, object]]:
    """Columns derived from others: the prediction's threshold, its source, the predicted flag.

    ``threshold_source`` says where the threshold came from: ``'file'`` (the row's threshold),
    ``'predicted'`` (no threshold, but the row's ``predicted`` call: the threshold stored is the
    operating point RadQA would have applied, not one the call is known to have used, which the
    file does not say), ``'configured'`` (radqa.toml's operating point made the call) or
    ``'default'`` (0.5 made it). The schema keeps threshold NOT NULL, hence a value for
    ``'predicted'`` rows; the trial export counts them as not prespecified."""
    if kind != "predictions":
        return [
            "coalesce(\"__t_read_role\", 'primary') as read_role",
            "coalesce(\"__t_arm\", '') as arm",
        ], {}
    params: dict[str, object] = {}
    whens = []
    for i, (key, value) in enumerate(sorted(settings.operating_points.items())):
        params[f"op_t{i}"] = value
        if key.count("/") == 1:  # two equalities, which DuckDB checks without building a text
            model, finding = key.split("/")
            params.update({f"op_m{i}": model, f"op_f{i}": finding})
            match = f'"__t_model_name" = $op_m{i} and "__t_finding" = $op_f{i}'
        else:  # a '/' in the model's or the finding's name ("Lunit/INSIGHT CXR/nodule")
            params[f"op_k{i}"] = key
            match = f'"__t_model_name" || \'/\' || "__t_finding" = $op_k{i}'
        whens.append(f"when {match} then $op_t{i}::double")
    configured = f"case {' '.join(whens)} end" if whens else "null::double"
    threshold = f'coalesce("__t_threshold", {configured}, 0.5)'
    return [
        f"{threshold} as threshold",
        f'coalesce("__t_predicted", "__t_score" >= {threshold}) as predicted',
        f"case when \"__t_threshold\" is not null then 'file' "
        "when \"__t_predicted\" is not null then 'predicted' "
        f"when {configured} is not null then 'configured' else 'default' end as threshold_source",
    ], params


def checked_key(kind: str) -> tuple[str, ...]:
    """The natural key as ``_checked`` names it (the raw reader id: its pseudonym comes later)."""
    return tuple(q("_id_reader_id") if k == "reader_pid" else k for k in NATURAL_KEYS[kind])


def study_in_checked() -> tuple[str, ...]:
    """The study columns of a prediction row as ``_checked`` names them."""
    return (*STUDY_FROM_PREDICTIONS, q("_id_patient_id"))


def checked_sql(
    kind: str,
    contract: tuple[Column, ...],
    source: Source,
    *,
    ordered: bool = False,
    settings: Settings | None = None,
) -> str:
    """SELECT of the checked rows, from which ingest makes temp table ``_checked`` (parameters
    $path, $ipad, $opad).

    ``settings``: its ``extra_columns`` decide which extra columns are kept (:func:`kept_extras`);
    None: the defaults (no radqa.toml).

    ``ordered``: the statement runs with ``preserve_insertion_order`` on to number a CSV's rows by
    their place in the file (see :func:`ingest.load._check`), so its checks must not reorder rows.

    The table is narrow: it holds the columns the file has, not those it lacks (a NULL column
    costs as much as any other in an uncompressed temp table that spills to disk), nor a
    prediction's derived threshold, predicted flag and threshold source: :func:`rows_sql` gives
    those and the absent columns when the rows are read. It keeps the file's own threshold and
    predicted values, if any, as ``_f_threshold`` and ``_f_predicted``.

    Besides the typed columns it carries two hashes computed while the row is at hand, so that
    later passes read one number instead of several text columns: ``_kh`` of the natural key
    (the duplicate check) and, for predictions, ``_sh`` of the study's values (do a study's rows
    agree?). Equal hashes of different values are possible in principle (64 bits): ``_kh`` only
    decides whether the exact duplicate search runs, ``_sh`` see :func:`ingest.load._merge_studies`.
    """
    found = source.lowered
    present = [c for c in contract if c.name in found]
    zoned = bool(settings and settings.time_zone)
    comma = decimal_comma(source)
    typed = ", ".join(
        f"{c.typed_sql(q(c.name), zoned=zoned, decimal_comma=comma)} as {q('__t_' + c.name)}"
        for c in present
    )
    ids = {c.name: c.typed_sql(q(c.name)) for c in present if c.an_id}
    outputs = []
    for c in present:
        if c.identifier:
            outputs.append(f"{q('__t_' + c.name)} as {q('_id_' + c.name)}")
        elif kind == "predictions" and c.name in DERIVED_FROM:
            outputs.append(f"{q('__t_' + c.name)} as {q('_f_' + c.name)}")
        elif c.name not in ("read_role", "arm"):
            outputs.append(f"{q('__t_' + c.name)} as {c.name}")
    if kind == "reads":
        outputs += _reads_defaults(found)
    extras = kept_extras(source, settings)
    if extras:
        pairs = ", ".join(f"{literal(e)}, {source.ref(e)}" for e in extras)
        outputs.append(f"json_object({pairs}) as extra")
    if source.can_be_malformed:
        outputs.append("__overflow as _overflow")
    # a bad row's values: its ids as pseudonyms, no extra column that is not kept (one that names
    # a person or extra_columns leaves out; the other kind's id, a reads file's patient_id, is
    # one); none when its format is broken (Source.malformed_sql). A patient or reader id in
    # scientific notation (typed NULL) has no pseudonym: SCIENTIFIC stands in its place
    raw = []
    for name in found:
        if name in IDENTIFIERS and name in ids:  # its pseudonym as stored, even on a bad row
            scientific = f"case when {_scientific(q(name))} then {literal(SCIENTIFIC)} end"
            raw.append(
                f"{literal(IDENTIFIERS[name])}, coalesce({pseudonym_sql(ids[name])}, {scientific})"
            )
        elif name in ids:  # as typed; as written when that is NULL (scientific notation)
            raw.append(f"{literal(name)}, coalesce({ids[name]}, cast({q(name)} as varchar))")
        elif name in source.contract or name in extras:
            raw.append(f"{literal(name)}, cast({source.ref(name)} as varchar)")
    raw_json = f"json_object({', '.join(raw)})"
    ok = " and ".join([*(_valid(c, ordered) for c in present), "__overflow is null"])
    stored = _stored_names(kind, contract, source, settings)
    # _ok is computed once (an inner select) and read twice: the flag and the bad rows' JSON
    hashes = [f"hash({', '.join(checked_key(kind))}) as _kh"]
    if kind == "predictions":
        study = [column_sql(n, stored, contract) for n in study_in_checked()]
        hashes.append(f"hash({', '.join(study)}) as _sh")
    return f"""
        select *, {", ".join(hashes)} from (
        select {"_rn, " if source.numbered else ""}{", ".join(outputs)},
               __ok as _ok,
               case when not __ok and __overflow is null then {raw_json} end as _raw_json,
               case when __ok then false else {_blank_sql(source)} end as _blank
        from (
            select *, {ok} as __ok
            from (select *, {source.malformed_sql()} as __overflow, {typed}
                  from ({source.scan_sql()}))
        ))
    """


def decimal_comma(source: Source) -> bool:
    """Whether a file's numbers may be written with a decimal comma (0,35): a CSV file whose
    delimiter is not a comma (Excel's CSV where the comma is the decimal separator)."""
    return source.fmt == "csv" and source.delim != ","


def _blank_sql(source: Source) -> str:
    """Whether a row as read holds no value at all: a line of delimiters only, as a spreadsheet
    leaves where rows were cleared rather than deleted (``,,,,,,``), or a JSON Lines ``{}``.
    Such a row carries nothing to check or keep: ingest skips it and counts it."""
    return " and ".join([*(_empty(source.ref(n)) for n in source.lowered), "__overflow is null"])


def kept_extras(source: Source, settings: Settings | None) -> tuple[str, ...]:
    """The file's columns beyond the contract that are kept (in ``extra``): all but those whose
    name says they identify a person (:func:`ingest.contract.names_a_person`) and, when radqa.toml
    has ``extra_columns``, those it does not list (:meth:`radqa.settings.Settings.keeps_extra`).
    """
    header = source.header_names
    return tuple(
        c
        for c in source.extras
        if not names_a_person(header[c]) and (settings is None or settings.keeps_extra(c))
    )


def dropped_extras(source: Source) -> tuple[str, ...]:
    """The file's columns beyond the contract that are not stored: they name a person."""
    header = source.header_names
    return tuple(c for c in source.extras if names_a_person(header[c]))


def unlisted_extras(source: Source, settings: Settings) -> tuple[str, ...]:
    """The file's columns beyond the contract that are not stored because radqa.toml's
    ``extra_columns`` does not list them (those that name a person aside: see
    :func:`dropped_extras`)."""
    header = source.header_names
    return tuple(
        c for c in source.extras if not names_a_person(header[c]) and not settings.keeps_extra(c)
    )


# The columns a prediction's derived values are computed from (when the file gives them).
DERIVED_FROM = ("threshold", "predicted")


def _reads_defaults(found: tuple[str, ...]) -> list[str]:
    """A read's role and arm with their defaults (part of its natural key, so stored)."""
    role = q("__t_read_role") if "read_role" in found else "null::varchar"
    arm = q("__t_arm") if "arm" in found else "null::varchar"
    return [f"coalesce({role}, 'primary') as read_role", f"coalesce({arm}, '') as arm"]


def _stored_names(
    kind: str, contract: tuple[Column, ...], source: Source, settings: Settings | None
) -> set[str]:
    """Unquoted names of the columns :func:`checked_sql` stores (hashes and _dup_of aside)."""
    found = source.lowered
    names = {"_ok", "_raw_json", "_blank"} | ({"_rn"} if source.numbered else set())
    for c in contract:
        if c.name not in found:
            continue
        if c.identifier:
            names.add("_id_" + c.name)
        elif kind == "predictions" and c.name in DERIVED_FROM:
            names.add("_f_" + c.name)
        else:
            names.add(c.name)
    if kind == "reads":
        names |= {"read_role", "arm"}
    if kept_extras(source, settings):
        names.add("extra")
    if source.can_be_malformed:
        names.add("_overflow")
    return names


def column_sql(
    name: str, stored: Collection[str], contract: tuple[Column, ...], prefix: str = ""
) -> str:
    """``name`` (quoted or not) as stored in ``_checked``, or a typed NULL when it is not."""
    bare = name.strip('"')
    if bare in stored:
        return prefix + q(bare)
    types = {c.name: c.sql_type for c in contract} | {f"_id_{c.name}": "varchar" for c in contract}
    types |= {"_f_threshold": "double", "_f_predicted": "boolean", "extra": "json"}
    types |= {"_dup_of": "bigint", "_overflow": "varchar"}
    types |= {"_held_column": "varchar", "_held_reason": "varchar"}
    return f"null::{types[bare]}"


def rn_sql(stored: Collection[str], prefix: str = "") -> str:
    """The data row number of a ``_checked`` row: its ``_rn`` column or, for a file read in order
    (CSV, JSON Lines; see :attr:`ingest.readers.Source.numbered`), its rowid + 1: its place among
    the rows read. The number shown also counts the empty lines before it (:func:`problems_sql`);
    both order the rows alike."""
    return f"{prefix}_rn" if "_rn" in stored else f"({prefix}rowid + 1)"


def row_columns(
    kind: str,
    contract: tuple[Column, ...],
    settings: Settings,
    stored: Collection[str],
    prefix: str = "",
) -> tuple[list[tuple[str, str]], dict[str, object]]:
    """The value columns of a checked row as (name, SQL) in the order of the row's JSON, and the
    parameters of that SQL: the stored columns, typed NULLs for those the file lacks, and (for
    predictions) the derived threshold, predicted flag and threshold source.

    ``stored`` names the columns of ``_checked``; ``prefix`` qualifies them (``"c."``).
    """
    cols: list[tuple[str, str]] = []
    for c in contract:
        if c.identifier:
            name = "_id_" + c.name
        elif c.name in ("read_role", "arm", "threshold", "predicted"):
            continue  # derived below
        else:
            name = c.name
        cols.append((name, column_sql(name, stored, contract, prefix)))
    params: dict[str, object] = {}
    if kind == "predictions":
        computed, params = _computed(kind, settings)
        refs = {
            '"__t_threshold"': column_sql("_f_threshold", stored, contract, prefix),
            '"__t_predicted"': column_sql("_f_predicted", stored, contract, prefix),
            '"__t_model_name"': prefix + "model_name",
            '"__t_finding"': prefix + "finding",
            '"__t_score"': prefix + "score",
        }
        for expr in computed:
            for old, new in refs.items():
                expr = expr.replace(old, new)
            body, name = expr.rsplit(" as ", 1)
            cols.append((name, body))
    else:
        cols += [("read_role", prefix + "read_role"), ("arm", prefix + "arm")]
    cols.append(("extra", column_sql("extra", stored, contract, prefix)))
    return cols, params


def rows_sql(
    kind: str, contract: tuple[Column, ...], settings: Settings, stored: Collection[str]
) -> tuple[str, dict[str, object]]:
    """SELECT of ``_checked`` in its full shape (every value column, ``_ok``, ``_dup_of``, ...)
    and its parameters: what the wide table held before :func:`checked_sql` narrowed it."""
    cols, params = row_columns(kind, contract, settings, stored)
    specials = [
        f"{column_sql(n, stored, contract)} as {n}"
        for n in ("_dup_of", "_overflow", "_held_column", "_held_reason")
    ]
    hashes = "_kh, _sh" if kind == "predictions" else "_kh"
    values = ", ".join(f"{sql} as {q(name)}" for name, sql in cols)
    return (
        f"select {rn_sql(stored)} as _rn, {values}, _ok, {', '.join(specials)}, _raw_json, "
        f"{hashes} from _checked",
        params,
    )


def problems_sql(
    contract: tuple[Column, ...],
    found: tuple[str, ...],
    rows: str,
    *,
    gaps: bool = False,
    zoned: bool = False,
    decimal_comma: bool = False,
) -> str:
    """SELECT over the bad rows of ``rows`` (``_checked`` in its full shape, see
    :func:`rows_sql`): _rn, the column first at fault, and the reason.

    ``zoned``: ``time_zone`` is set, and the values are typed as the checking pass typed them
    (:meth:`ingest.contract.Column.typed_sql`): a time with an offset that only its conversion
    takes out of range is worded as such, and one it keeps in range is not.

    ``decimal_comma``: likewise, the file's numbers may be written 0,35
    (:func:`decimal_comma`).

    ``gaps``: temp table ``_gaps`` counts the empty lines before the rows
    (:func:`ingest.load._empty_lines`); the row numbers shown, the bad row's and the one a
    duplicate repeats, count them, as a spreadsheet does.

    A row that was good but holds a patient or reader id in another column has the reason
    ingest gave it (``_held_reason``, :func:`ingest.load._mark_held_ids`), a repeated row its
    own (``_dup_of``).

    A row whose format is broken (``_overflow``: more fields than the header, a line that is not
    JSON) has that as its only reason: its values are not where the header says, so checking
    them would only quote them, and any may be an id (:meth:`ingest.readers.Source.malformed_sql`).
    """
    present = [c for c in contract if c.name in found]
    raw_cols = ", ".join(
        f"json_extract_string(_raw_json, '$.\"{IDENTIFIERS.get(c.name, c.name)}\"') as {q(c.name)}"
        for c in present
    )
    typed = ", ".join(
        f"{c.typed_sql(q(c.name), zoned=zoned, decimal_comma=decimal_comma)} "
        f"as {q('__t_' + c.name)}"
        for c in present
    )
    checks = [(c.name, _problem(c, decimal_comma)) for c in present]
    reasons = "coalesce(_overflow, concat_ws('; ', " + ", ".join(p for _, p in checks) + "))"
    first = "case " + " ".join(f"when ({p}) is not null then '{n}'" for n, p in checks) + " end"
    first = f"case when _overflow is null then {first} end"
    return f"""
        select _rn, coalesce(_dup_column, _held_column, {first}, '(row)') as column_name,
               coalesce(_dup_reason, _held_reason, {reasons}) as reason, _raw_json
        from (
            select _rn, _raw_json, _overflow, _dup_column, _dup_reason, _held_column,
                   _held_reason, {raw_cols}, {typed}
            from (
                select _rn, _raw_json, _overflow, _held_column, _held_reason,
                       case when _dup_of is not null then $first_key end as _dup_column,
                       case when _dup_of is not null then 'duplicate of row ' || _dup_of
                            || ' (same ' || $key_list || '); the last row in the file is kept'
                       end as _dup_reason
                from ({_shown_rows(rows, gaps)})
            )
        )
    """


def _shown_rows(rows: str, gaps: bool) -> str:
    """The bad rows of ``rows``, their ``_rn`` and ``_dup_of`` counting the empty lines before
    them when ``gaps`` (see :func:`problems_sql`): one ASOF join on the bad rows alone."""
    if not gaps:
        return f"select * from ({rows}) where not _ok"
    return f"""
        select b.* replace (b._rn + coalesce(g.n, 0) as _rn,
                            b._dup_of + coalesce(d.n, 0) as _dup_of)
        from (select * from ({rows}) where not _ok) b
        asof left join _gaps g on b._rn > g.k
        asof left join _gaps d on b._dup_of > d.k
    """


def _scientific(raw: str) -> str:
    """SQL: whether ``raw``, a bad row's id that :meth:`ingest.contract.Column.typed_sql` made
    NULL though it is not empty, was a number in scientific notation (else it was Excel's ="" or
    a lone apostrophe)."""
    return f"regexp_matches(cast({raw} as varchar), '[0-9][eE][+-][0-9]')"


def _problem(col: Column, decimal_comma: bool = False) -> str:
    """SQL wording the rule a bad row breaks in ``col`` (NULL when the value is fine).
    ``decimal_comma``: the file reads 0,35 as a number (:func:`decimal_comma`), so 1,5 is out
    of range, not written with the wrong separator."""
    raw, typed = q(col.name), q(f"__t_{col.name}")
    expected = col.expectation()
    shown = f"'''' || left(cast({raw} as varchar), 60) || ''''"
    bad = f"'column ''{col.name}'' is ' || {shown} || '; expected {expected}'"
    if col.identifier:  # never echo an identifier, not even a pseudonym
        bad = f"'column ''{col.name}'' is not valid; expected {expected}'"
    elif col.kind == "timestamp":  # a word after the time (Column.typed_sql): which rule
        bad = (
            f"case when {worded_time_sql(raw)} "
            f"then 'column ''{col.name}'' is ' || {shown} || '; expected ' || "
            f"case when {am_pm_sql(raw)} then "
            "'a 24-hour time (22:00, not 10:00 PM)' else 'a time zone written as an offset "
            "(+09:00), Z, UTC or a name such as Asia/Tokyo (an abbreviation such as EST or KST "
            f"is ambiguous)' end else {bad} end"
        )
    if col.kind == "text" and not col.identifier:  # too long (Column.valid_sql)
        long = f"length({typed}) > {MAX_TEXT}"
        size = f"format('{{:,}}', length({typed}))"
        bad = (
            f"case when {long} then 'column ''{col.name}'' is ' || {shown} || ', ' || {size} "
            f"|| ' characters long; expected text of at most {MAX_TEXT} characters' else {bad} end"
        )
    if col.kind in ("score", "number") and not decimal_comma:  # a quoted 0,35: say so
        comma = f"regexp_full_match(trim(cast({raw} as varchar)), '[-+]?[0-9]*,[0-9]+')"
        bad = (
            f"case when {comma} then 'column ''{col.name}'' is ' || {shown} || ', a decimal "
            f"comma; expected {expected}, written with a point (0.35)' else {bad} end"
        )
    invalid = f"({typed} is null or not ({col.valid_sql(typed)}))"
    if col.an_id:  # Column.typed_sql: NULL in scientific notation, which the values say
        why = "a number in scientific notation"
        why_not = (
            "as a spreadsheet shows a long number after rounding it; expected the id as written"
        )
        if col.identifier:  # the values hold SCIENTIFIC in place of a pseudonym
            sure, said = f"{raw} = {literal(SCIENTIFIC)}", f"'{why} (not shown), {why_not}'"
        else:
            sure, said = (
                f"{typed} is null and {_scientific(raw)}",
                f"{shown} || ', {why}, {why_not}'",
            )
        bad = f"case when {sure} then 'column ''{col.name}'' is ' || {said} else {bad} end"
        invalid = f"({sure} or {invalid})"
    if col.required:
        return (
            f"case when {_empty(raw)} then 'column ''{col.name}'' is empty; expected {expected}' "
            f"when {invalid} then {bad} end"
        )
    return f"case when not {_empty(raw)} and {invalid} then {bad} end"
