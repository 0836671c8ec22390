"""Open an input file (CSV, Parquet, JSON Lines) as a DuckDB table function with row numbers."""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import re
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from ingest import encodings
from radqa.errors import FileRefusedError

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


@dataclass(frozen=True)
class Source:
    """A readable input file: the SQL that scans it and its columns (original spelling).

    ``overflow`` names the columns DuckDB adds for CSV rows with more fields than the header
    (``null_padding``): a value there is a malformed row, quarantined like any other.

    ``last``: of a CSV file, the header's last named column. DuckDB pads a row with fewer fields
    than the header with NULLs (``null_padding``), and reads an empty field as '' (its NULL
    string is one no file holds, :data:`NO_NULL`): a NULL there is a short row, malformed too.

    ``parallel``: DuckDB reads a CSV file in parallel chunks, which cannot hold a quoted value
    that spans lines (:func:`needs_serial_read`); such a file is read again with one thread.

    ``compression``: 'gzip' for a gzip-compressed text file whose name does not say so (DuckDB
    tells compression by the name); None: by the name.

    ``read_from``: the file DuckDB reads, as :func:`ingest.encodings.decoded` gives it (``path``
    itself, or a UTF-8 copy of a file in another encoding); None: ``path``. Messages name
    ``path``.

    ``contract``: the names of the contract's columns. The file's other columns (its extras) are
    scanned under names of our own (:meth:`ref`), so that no header can clash with the names the
    checks give their columns; of a JSON Lines file, contract columns are read as text, extras as
    JSON values (see :func:`open_source`).
    """

    path: Path
    fmt: str
    columns: tuple[str, ...]
    delim: str = ","
    overflow: tuple[str, ...] = ()
    last: str | None = None
    parallel: bool = True
    contract: frozenset[str] = frozenset()
    encoding: str = "utf-8"
    read_from: Path | None = None
    compression: str | None = None
    widened: bool = False

    @property
    def params(self) -> dict[str, str]:
        """The parameter :meth:`scan_sql` reads the file by."""
        return {"path": str(self.read_from or self.path)}

    @property
    def extras(self) -> tuple[str, ...]:
        """The file's columns beyond the contract (lower case, in file order)."""
        return tuple(c for c in self.lowered if c not in self.contract)

    @property
    def header_names(self) -> dict[str, str]:
        """Each column's lower-case name -> the name as the header writes it (the first, for
        names that differ only in case): ``RadiologistID``, whose camelCase humps tell its words
        apart (:func:`ingest.contract.names_a_person`)."""
        names: dict[str, str] = {}
        for column in self.columns:
            if column not in self.overflow:
                names.setdefault(column.strip().lower(), column.strip())
        return names

    def ref(self, name: str) -> str:
        """SQL naming column ``name`` (lower case) as :meth:`scan_sql` gives it."""
        if name in self.contract:
            return _q(name)
        return _q(f"_x{self.extras.index(name)}")

    def serial(self) -> Source:
        """The same source read by one thread, start to end."""
        return replace(self, parallel=False)

    def widened_by(self, more: int) -> Source:
        """The same CSV file read with ``more`` columns beyond those its header names, given
        rather than sniffed (:func:`more_fields`): a row with more fields than the
        header fills them, and is quarantined like a row of the sniffer's sample."""
        named = tuple(c for c in self.columns if c not in self.overflow)
        taken = {c.lower() for c in named}
        extra: list[str] = []
        i = 0
        while len(extra) < len(self.overflow) + more:
            name = f"column{len(named) + i}"
            i += 1
            if name.lower() not in taken:
                extra.append(name)
        return replace(self, columns=(*named, *extra), overflow=tuple(extra), widened=True)

    @property
    def lowered(self) -> tuple[str, ...]:
        """The header's column names, lower case (overflow columns left out)."""
        return tuple(c.strip().lower() for c in self.columns if c not in self.overflow)

    @property
    def numbered(self) -> bool:
        """Whether :meth:`scan_sql` numbers the rows (``_rn``): Parquet does (file_row_number).
        CSV and JSON Lines rows are numbered by their position: the table made from them with
        ``preserve_insertion_order`` on holds them in file order, so rowid + 1 is the row."""
        return self.fmt == "parquet"

    def lines_sql(self) -> str:
        """SELECT of the file's lines in file order (run it with ``preserve_insertion_order`` on),
        read as :meth:`scan_sql` reads the rows (encoding, compression, threads): ``empty``,
        whether the row reader skips the line (CSV: an empty line; JSON Lines: one of spaces
        too), and ``quotes``, the number of '"' in a line of a CSV file read start to end
        (:meth:`serial`), whose quoted values may span lines (else 0). From them
        :func:`ingest.load._empty_lines` learns how many empty lines precede each row."""
        if self.fmt == "csv":
            lines = _lines_sql(self.parallel, self.encoding, self.compression)
            empty = "line is null"
        else:
            lines = _lines_sql(self.parallel, compression=self.compression)
            empty = f"(line is null or {_BLANK_LINE})"  # the lines _json_lines_sql skips
        quotes = "0"
        if self.fmt == "csv" and not self.parallel:
            quotes = "coalesce(length(line) - length(replace(line, '\"', '')), 0)"
        return f"select {empty} as empty, {quotes} as quotes from {lines}"

    def scan_sql(self) -> str:
        """SELECT of every row: the columns under lower-case names and, where :attr:`numbered`,
        ``_rn`` (1-based data row)."""
        named = [c for c in self.columns if c not in self.overflow]
        # a CSV field read as '' (see last) is NULL, as an empty value is everywhere else
        value = "nullif({}, '')" if self.last is not None else "{}"
        cols = ", ".join(
            [
                f"{value.format(_q(orig))} as {self.ref(low)}"
                for orig, low in zip(named, self.lowered, strict=True)
            ]
            + [f"{_q(c)} as {_q('_overflow_' + str(i))}" for i, c in enumerate(self.overflow)]
            + ([self._short_sql(named)] if self.last is not None else [])
        )
        if self.fmt == "parquet":
            return (
                f"select file_row_number + 1 as _rn, {cols} "
                "from read_parquet($path, file_row_number = true)"
            )
        if self.fmt == "jsonl":
            return self._json_lines_sql()
        reader = _reader_sql(
            self.fmt,
            self.delim,
            self.parallel,
            self.encoding,
            self.compression,
            self.columns if self.widened else None,
        )
        return f"select {cols} from {reader}"

    def _short_sql(self, named: list[str]) -> str:
        """``_fields``: the number of fields of a CSV row with fewer than the header (its
        :attr:`last` column NULL) and a value in one of them, else NULL. Padding is trailing,
        so its fields are the columns that are not NULL. Computed for such rows only."""
        fields = _count_sql(named)
        value = ", ".join(f"nullif({_q(c)}, '')" for c in named)
        return (
            f"case when {_q(str(self.last))} is null and coalesce({value}) is not null "
            f"then {fields} end as _fields"
        )

    def _json_lines_sql(self) -> str:
        """SELECT of a JSON Lines file's rows, one per line that is not blank: DuckDB reads the
        lines as text and parses each. A line that is not one JSON object is a bad row (its
        ``_malformed`` says why; its values are NULL), quarantined like any other, instead of
        making the whole file unreadable. Contract columns are read as text (``"1"`` and ``1``
        are both ``1``), the others as JSON values."""
        named = list(zip(self.columns, self.lowered, strict=True))
        # the required columns are there (ingest refuses a file without them before scanning)
        values = [c for c, low in named if low in self.contract]
        others = [c for c, low in named if low not in self.contract]
        # try(): NULL for a line that is not valid JSON (one parse, where json_valid is two)
        pointers = ", ".join(literal(_pointer(c)) for c in values)
        pick = [f"try(json_extract_string(line, [{pointers}])) as __v"]
        if others:
            pointers = ", ".join(literal(_pointer(c)) for c in others)
            pick.append(f"try(json_extract(line, [{pointers}])) as __j")
        cols = [f"__v[{i}] as {self.ref(c.strip().lower())}" for i, c in enumerate(values, 1)]
        cols += [f"__j[{i}] as {self.ref(c.strip().lower())}" for i, c in enumerate(others, 1)]
        # A contract column holding an object or an array ({"mrn": "P1"}, ["Osaka"]) would be
        # read as its JSON text: a site named '{"n":"Osaka"}'. Its type is looked up only for a
        # value that starts so (a braced GUID string is text): no cost for the usual rows.
        nested = []
        for i, c in enumerate(values, 1):
            kind = f"json_type(line, {literal(_pointer(c))})"
            said = literal(f"column '{c.strip().lower()}' holds a JSON ")
            nested.append(
                f"when (__v[{i}] like '{{%' or __v[{i}] like '[%') "
                f"and {kind} in ('OBJECT', 'ARRAY') then {said} || lower({kind}) || "
                "'; expected one value (text, a number or true/false)'"
            )
        malformed = (
            "case when __v is null then 'the line is not valid JSON' "
            f"when not {_OBJECT_LINE} then 'the line is JSON but not an object' "
            f"{' '.join(nested)} end"
        )
        return f"""
            select {", ".join([*cols, f"{malformed} as _malformed"])}
            from (select line, {", ".join(pick)} from {_lines_sql(self.parallel, compression=self.compression)}
                  where not {_BLANK_LINE})
        """

    def malformed_sql(self) -> str:
        """SQL giving a row's problem with the file's format (NULL when none): a CSV row with
        more fields than the header, a JSON Lines line that is not one JSON object.

        Such a row's values are not where its header says (a delimiter inside a value that is
        not quoted shifts those after it), so any of them may be a patient or reader id: the
        reason quotes none of them, and the row is kept without them (see
        :func:`ingest.validate.checked_sql`)."""
        if self.fmt == "jsonl":
            return "_malformed"
        n = len(self.lowered)
        whens = []
        if self.overflow:
            extra = _count_sql([f"_overflow_{i}" for i in range(len(self.overflow))])
            whens.append(
                f"when {extra} > 0 then 'the row has ' || ({n} + {extra}) || ' fields, more "
                f"than the header''s {n} columns (a delimiter in a value that is not quoted?)'"
            )
        if self.last is not None:
            whens.append(
                "when _fields is not null then 'the row has ' || _fields || ' fields, fewer "
                f"than the header''s {n} columns (a value with a line break that is not quoted, "
                "or a missing delimiter?)'"
            )
        return f"case {' '.join(whens)} end" if whens else "null::varchar"

    @property
    def can_be_malformed(self) -> bool:
        """Whether :meth:`malformed_sql` can be other than NULL."""
        return self.fmt == "jsonl" or bool(self.overflow) or self.last is not None


# A line that may be a JSON object: its first character (after JSON's blanks) is a brace.
_OBJECT_LINE = "left(ltrim(line, ' \t\r'), 1) = '{'"
# A line of JSON's blanks alone (spaces, tabs, a CR), which a JSON Lines reader skips
_BLANK_LINE = "trim(line, ' \t\r') = ''"


def _lines_sql(
    parallel: bool = True, encoding: str = "utf-8", compression: str | None = None
) -> str:
    """A text file's lines as one column ``line``, as they are (a JSON Lines file: each is parsed
    in SQL; a CSV file: its header line is split in Python)."""
    return (
        "read_csv($path, header = false, columns = {'line': 'VARCHAR'}, delim = '\\x01', "
        f"quote = '', escape = '', auto_detect = false, strict_mode = false"
        f"{_read_options(parallel, encoding, compression)})"
    )


def _read_options(parallel: bool, encoding: str, compression: str | None = None) -> str:
    """read_csv's options for a file read with one thread, in an encoding other than UTF-8, or
    compressed under a name that does not say so."""
    options = "" if parallel else ", parallel = false"
    options += "" if compression is None else f", compression = '{compression}'"
    return options + ("" if encoding == "utf-8" else f", encoding = '{encoding}'")


def _pointer(key: str) -> str:
    """The JSON pointer (RFC 6901) of a top-level key."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _count_sql(columns: Sequence[str]) -> str:
    """SQL counting the ``columns`` that are not NULL, as one flat call: a sum (``a + b + ...``)
    nests one expression per column, and DuckDB refuses a file of 1,000 columns or more
    ("Max expression depth limit of 1000 exceeded")."""
    return f"list_count([{', '.join(_q(c) for c in columns)}])"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal of ``text`` (for a column name; values are always parameters)."""
    return "'" + text.replace("'", "''") + "'"


def file_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".zst"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    ext = Path(name).suffix
    if ext not in FORMATS:
        raise FileRefusedError(
            f"{path.name}: cannot read files ending in '{ext or '(none)'}'; expected CSV (.csv), "
            "Parquet (.parquet) or JSON Lines (.jsonl)"
        )
    return FORMATS[ext]


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


DELIMITERS = (",", ";", "\t", "|")
# read_csv's NULL string: none, so that an empty field reads as '' and only the padding of a row
# with fewer fields than the header is NULL (see Source.last)
NO_NULL = "<radqa: no NULL string>"


def _reader_sql(
    fmt: str,
    delim: str = ",",
    parallel: bool = True,
    encoding: str = "utf-8",
    compression: str | None = None,
    columns: Sequence[str] | None = None,
) -> str:
    """DuckDB's table function for a CSV or Parquet file (parameter $path). ``columns``: a CSV
    file's columns, given rather than sniffed (:meth:`Source.widened_by`)."""
    if fmt == "csv":
        quoted = {"\t": "\\t"}.get(delim, delim)
        given = ""
        if columns is not None:  # no sniffer: it would insist on the header's width
            names = ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns)
            given = f", auto_detect = false, escape = '\"', columns = {{{names}}}"
        return (
            f"read_csv($path, header = true, all_varchar = true, delim = '{quoted}', "
            f"quote = '\"', null_padding = true, nullstr = {literal(NO_NULL)}"
            f"{given}{_read_options(parallel, encoding, compression)})"
        )
    return "read_parquet($path)"


def open_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    contract: frozenset[str],
    *,
    read_from: Path | None = None,
    encoding: str | None = None,
    required: tuple[str, ...] = (),
) -> Source:
    """Check that ``path`` can be read and learn its columns; FileRefusedError when it cannot.

    ``read_from`` and ``encoding``: the file DuckDB reads instead of ``path`` and the encoding
    it reads a CSV file in, as :func:`ingest.encodings.decoded` gives them; with no
    ``encoding``, a CSV file is read as UTF-16 when it starts with that byte-order mark, else as
    UTF-8.

    ``contract`` names (lower case) the contract's columns. A JSON Lines file's are read as text,
    for a value may be a string in one line and a number in another: read as text, ``"1"`` and
    ``1`` are both ``1`` (DuckDB's own guess would type the column JSON and keep the quotes of
    ``"1"``, so one patient id would get two pseudonyms). Its other keys are read as JSON
    values, whatever their type. Its keys are those of all its lines, not only of the lines
    DuckDB samples: a key that first appears late is kept, not dropped.

    ``required``: the contract's required columns, in its order; a file whose first line names
    none of them is refused as having no header row (:func:`_headerless`).
    """
    fmt = file_format(path)
    if not path.is_file():
        raise not_a_file(path)
    if path.stat().st_size == 0:
        raise FileRefusedError(f"{path.name}: the file is empty; expected a header row and data")
    data = read_from or path
    compression = _compression(path, data, fmt)
    if fmt != "csv":
        encoding = "utf-8"
    elif encoding is None:
        encoding = encodings.bom_encoding(data)
    delim, header = (
        _csv_header(con, path, data, encoding, compression) if fmt == "csv" else (",", None)
    )
    if header is not None:
        _refuse_wide(path, len(header), contract)
    parallel = True
    try:
        if fmt == "jsonl":
            try:
                columns, repeated = _every_key(con, data, compression)
            except duckdb.Error as exc:
                if not needs_serial_read(exc):
                    raise
                columns, repeated, parallel = (), [], False
            if not columns:
                # DuckDB's parallel reader skips a line longer than its buffer without a word
                # (a file of one 200 MB object reads as no line at all); one thread reads the
                # lines in turn and refuses that one as longer than its limit (unreadable)
                columns, repeated = _every_key(con, data, compression, parallel=False)
                parallel = False
            if repeated:  # DuckDB would keep the first, Python's json the last
                shown = [k for k in repeated if not looks_like_value(k)]
                raise FileRefusedError(
                    f"{path.name}: a key repeats within a line's object: "
                    f"{', '.join(shown) or 'keys that read as values (not shown)'}; expected "
                    "each key once per line"
                )
            if not columns:
                raise FileRefusedError(
                    f"{path.name}: no line is a JSON object; expected JSON Lines, one object "
                    "per line"
                )
        else:
            described = con.execute(
                f"describe select * from "
                f"{_reader_sql(fmt, delim, encoding=encoding, compression=compression)}",
                {"path": str(data)},
            )
            columns = tuple(r[0] for r in described.fetchall())
    except duckdb.Error as exc:
        raise unreadable(path, exc) from exc
    if header is None:  # a CSV file's header was counted before DuckDB read the file
        _refuse_wide(path, len(columns), contract)
    overflow = columns[len(header) :] if header is not None else ()
    # the last column the header names (a header may end in delimiters its rows leave out)
    named = [c for c, h in zip(columns, header or (), strict=False) if h.strip()]
    source = Source(
        path, fmt, columns, delim, overflow, named[-1] if named else None, contract=contract,
        encoding=encoding, read_from=read_from, compression=compression, parallel=parallel,
    )  # fmt: skip
    if refusal := _headerless(source, required):
        raise refusal
    # DuckDB renames a repeated CSV or Parquet column (score, score_1): the names as the file
    # writes them are the header's fields and the Parquet schema's top-level columns
    if header is not None:
        names: Sequence[str] = [h for h in header if h.strip()]
    elif fmt == "parquet":
        names = _parquet_columns(con, path, data)
    else:
        names = columns
    lowered = [c.strip().lower() for c in names]
    dupes = sorted({c for c in lowered if lowered.count(c) > 1})
    if dupes:
        shown = [c for c in dupes if not looks_like_value(c)]
        raise FileRefusedError(
            f"{path.name}: column names repeat (case-insensitive): "
            f"{', '.join(shown) or 'names that read as values (not shown)'}; expected each "
            "column once"
        )
    return source


# The most columns a file may have, the contract's included. Each is a column of the queries
# that check the file: 1,000 columns x 50,000 rows load in 12 s; 10,000 columns ran DuckDB out of
# memory after 2.5 minutes (for 3 rows).
MAX_COLUMNS = 1000


def _refuse_wide(path: Path, count: int, contract: frozenset[str]) -> None:
    """FileRefusedError for a file of more than :data:`MAX_COLUMNS` columns (``count``)."""
    if count > MAX_COLUMNS:
        raise FileRefusedError(
            f"{path.name}: the file has {count:,} columns; at most {MAX_COLUMNS:,} are read: "
            f"{len(contract)} of the contract and up to {MAX_COLUMNS - len(contract):,} others; "
            "expected a file without the columns RadQA does not need"
        )


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path, data: Path) -> list[str]:
    """The names of a Parquet file's top-level columns, as its schema writes them (DuckDB's
    ``describe`` gives a repeated name another). The schema lists each column's children after
    it (a struct's fields, a list's element): those are skipped."""
    try:
        schema = con.execute(
            "select name, coalesce(num_children, 0) from parquet_schema($path)",
            {"path": str(data)},
        ).fetchall()
    except duckdb.Error as exc:
        raise unreadable(path, exc) from exc
    names, i = [], 1
    for _ in range(schema[0][1] if schema else 0):
        names.append(schema[i][0])
        nested, i = schema[i][1], i + 1
        while nested:  # the children of the column, at any depth
            nested, i = nested - 1 + schema[i][1], i + 1
    return names


def not_a_file(path: Path) -> FileRefusedError:
    """The refusal of a path that is not a file: a folder (with the glob that loads the files in
    it), or nothing."""
    if not path.is_dir():
        return FileRefusedError(f"{path}: no such file")
    ext = Path(path.name.lower().removesuffix(".gz").removesuffix(".zst")).suffix
    glob = str(path / f"*{ext if ext in FORMATS else '.csv'}")
    return FileRefusedError(
        f"{path}: is a folder, not a file; to load the files in it, give a glob such as '{glob}'"
    )


def _compression(path: Path, data: Path, fmt: str) -> str | None:
    """'gzip' for a CSV or JSON Lines file that is gzip-compressed under a name without '.gz'
    (DuckDB tells compression by the name), else None.

    FileRefusedError for a file that is neither text nor Parquet (a workbook, a PDF, ...:
    :func:`ingest.encodings.binary_kind`), saying what it is, where reading it would call its
    bytes text in an unknown encoding."""
    kind = encodings.binary_kind(path)
    if kind is None or (kind == "parquet" and fmt == "parquet"):
        return None
    if kind == "gzip" and fmt != "parquet":
        named = path.name.lower().endswith(".gz")
        return None if named or data != path else "gzip"
    raise FileRefusedError(
        f"{path.name}: cannot be read as {fmt.upper()}: {encodings.BINARY[kind]}"
    )


# A column name that reads as a value: a number or date (it starts with a digit), an id such as
# MRN73001 (a run of three digits), a DICOM person name (YAMADA^TARO) or an e-mail address.
_VALUE_LIKE = re.compile(r"^[-+]?\.?\d|\d{3}|[\^@]")


def looks_like_value(name: str) -> bool:
    """Whether a column name reads as a value rather than a name: the line it comes from may be
    a data row, and the name a patient or reader id, so no message quotes it."""
    return bool(_VALUE_LIKE.search(name.strip()))


def _headerless(source: Source, required: tuple[str, ...]) -> FileRefusedError | None:
    """The refusal of a file whose column names may be values (None when they are names).

    A CSV file exported without a header row (common in hospital exports) has a data row for a
    first line, and its "column names" are a patient's values, ids included: no message may list
    them. A file whose names include none of the contract's required columns is refused without
    naming any; one that lacks some and has names that read as values
    (:func:`looks_like_value`) names only the others."""
    lowered = source.lowered
    missing = [c for c in required if c not in lowered]
    if not missing:
        return None
    name = source.path.name
    expected = ", ".join(required)
    if len(missing) == len(required):
        if source.fmt == "csv":
            return FileRefusedError(
                f"{name}: its first line names none of the required columns, so the file seems "
                "to have no header row (the line is not shown: it may be a data row, with an "
                f"id); expected a first line naming the columns, the required ones: {expected}"
            )
        return FileRefusedError(
            f"{name}: none of its {len(lowered)} column names is a required column (they are not "
            f"shown: they may be values); expected columns named {expected}"
        )
    hidden = [c for c in lowered if looks_like_value(c)]
    if not hidden:
        return None  # ingest.load refuses it, listing the columns found
    shown = [c for c in lowered if not looks_like_value(c)]
    return FileRefusedError(
        f"{name}: missing required column(s): {', '.join(missing)}; columns found: "
        f"{', '.join(shown)} and {len(hidden)} whose names read as values (not shown: the first "
        "line may be a data row)"
    )


def _every_key(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    compression: str | None = None,
    *,
    parallel: bool = True,
) -> tuple[tuple[str, ...], list[str]]:
    """The keys of all the objects of a JSON Lines file, not only of the lines DuckDB would
    sample: a key that first appears late is kept. Ordered by their place in the objects
    (most files list their keys in one order), then by name. 0.6 s per 1M lines.
    Also the keys that one object holds twice (``{"score": 0.5, "score": 0.9}``)."""
    found = con.execute(
        f"""
        select key, max(times) > 1 from (
            select key, min(i) as i, count(*) as times from (
                select keys, unnest(keys) as key, generate_subscripts(keys, 1) as i
                from (select distinct try(json_keys(line)) as keys
                      from {_lines_sql(parallel, compression=compression)}
                      where {_OBJECT_LINE})
            ) group by keys, key
        )
        group by key order by min(i), key
        """,
        {"path": str(path)},
    ).fetchall()
    return tuple(k for k, _ in found), [k for k, twice in found if twice]


def _csv_header(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    data: Path,
    encoding: str = "utf-8",
    compression: str | None = None,
) -> tuple[str, list[str]]:
    """The delimiter (the candidate most frequent in the header line) and the header's fields.

    Sniffing on the header alone keeps a malformed data row from confusing the delimiter. DuckDB
    reads the line, as it reads the file: compressed (.gz, .zst) or not, a UTF-8 BOM skipped.
    """
    import csv

    try:
        rows = con.execute(
            # one thread: read in parallel, 'limit 1' returns the line a thread gives first, a
            # data line in 4 of 100 reads of a 15 MB file (preserve_insertion_order is off)
            f"select line from {_lines_sql(False, encoding, compression)} limit 1",
            {"path": str(data)},
        ).fetchall()
    except duckdb.Error as exc:
        raise unreadable(path, exc) from exc
    line = (rows[0][0] or "") if rows else ""
    delim = max(DELIMITERS, key=line.count)
    if line.count(delim) == 0:
        delim = ","
    return delim, next(csv.reader([line], delimiter=delim), [])


def mixes_line_endings(exc: BaseException, path: Path, data: Path, encoding: str | None) -> bool:
    """Whether DuckDB refused CSV file ``path`` (``exc``, its error or ours with it as the cause)
    whose lines end in both CRLF and LF: a file made by joining exports, or edited on another
    system. DuckDB's reader takes one of the two for the whole file and refuses the other
    (its sniffer when both are in its sample, its parser further on). Called only once DuckDB
    has refused the file, so a file it reads pays nothing: then one pass over ``data`` (the file
    DuckDB reads, in ``encoding``: :func:`ingest.encodings.decoded`), which stops at the first
    line of the other kind. A .zst file, which Python cannot read here, is taken as not mixed."""
    duckdb_error = isinstance(exc, duckdb.Error) or isinstance(exc.__cause__, duckdb.Error)
    if file_format(path) != "csv" or not duckdb_error or data.name.lower().endswith(".zst"):
        return False
    crlf = lf = 0
    carry = b""  # a block's last CR, which may end a line with the next block's LF
    try:
        for block in _utf8_blocks(data, encoding):
            chunk = carry + block
            pairs = chunk.count(b"\r\n")
            crlf, lf = crlf + pairs, lf + chunk.count(b"\n") - pairs
            if crlf and lf:
                return True
            carry = b"\r" if chunk.endswith(b"\r") else b""
    except (OSError, EOFError, UnicodeDecodeError, zlib.error):
        return False  # a damaged file: DuckDB's own refusal says what is wrong
    return False


@contextmanager
def lf_endings(
    path: Path, data: Path, encoding: str | None, scratch: Path
) -> Iterator[tuple[Path, str]]:
    """A UTF-8 copy of ``data`` whose lines all end in LF (CRLF -> LF; a lone CR is kept), and
    its encoding, for a CSV file that mixes line endings (:func:`mixes_line_endings`).

    DuckDB reads the copy as it reads any file, strictly: a malformed row is quarantined, or the
    file refused, as in a file of one line ending (with DuckDB's strict mode off, it would drop
    a late row's extra fields without a word). The copy has the lines of ``path``, one for one,
    so the row and line numbers messages give are the file's. A line break inside a quoted value
    reads as LF. A gzip-compressed file is decompressed, UTF-16 and Latin-1 text decoded.

    The copy holds the file's raw ids as the file does: it is written to the writer's private
    folder ``scratch`` (:func:`radqa.store.scratch_dir`) and removed when the block ends, or by
    the next writer if this one is killed first (its name, ``radqa_<pid>_...``)."""
    encoding = encoding or encodings.bom_encoding(data)
    fd, name = tempfile.mkstemp(prefix=f"radqa_{os.getpid()}_", suffix=".csv", dir=scratch)
    try:
        with os.fdopen(fd, "wb") as copy:
            carry = b""  # a block's last CR, which may end a line with the next block's LF
            try:
                for block in _utf8_blocks(data, encoding):
                    chunk = carry + block
                    carry = b"\r" if chunk.endswith(b"\r") else b""
                    copy.write(chunk[: len(chunk) - len(carry)].replace(b"\r\n", b"\n"))
            except UnicodeDecodeError:
                raise FileRefusedError(
                    f"{path.name}: cannot be read as CSV: the bytes are not valid {encoding} text"
                ) from None
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # not a full disk's OSError
                raise FileRefusedError(
                    f"{path.name}: cannot be read as CSV: its gzip compression is damaged or cut "
                    f"short ({exc})"
                ) from None
            copy.write(carry)
        yield Path(name), "utf-8"
    finally:
        os.unlink(name)


def _utf8_blocks(data: Path, encoding: str | None) -> Iterator[bytes]:
    """The text of ``data`` in UTF-8, in blocks of about 1 MB: gzip-compressed or not (told by
    its first bytes, as DuckDB is told by :func:`_compression`), read in ``encoding`` (one of
    DuckDB's: 'utf-8', 'utf-16', 'latin-1'; None: as :func:`ingest.encodings.bom_encoding`
    tells). UTF-8 passes as it is (a byte-order mark, bytes that are not UTF-8)."""
    encoding = encoding or encodings.bom_encoding(data)
    with _open_bytes(data) as fh:
        if encoding == "utf-8":
            yield from iter(lambda: fh.read(encodings.BLOCK), b"")
            return
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        for block in iter(lambda: fh.read(encodings.BLOCK), b""):
            yield decoder.decode(block).encode("utf-8")
        yield decoder.decode(b"", final=True).encode("utf-8")


def _open_bytes(data: Path) -> io.BufferedIOBase:
    """``data`` opened for reading its bytes, decompressed when gzip-compressed."""
    with open(data, "rb") as fh:
        compressed = fh.read(2) == encodings.GZIP_MAGIC
    return gzip.open(data, "rb") if compressed else open(data, "rb")


def needs_serial_read(exc: Exception) -> bool:
    """Whether DuckDB refused a CSV file only because its parallel reader met a quoted value
    spanning lines (valid CSV: a free-text comment with a line break, say), or a line longer
    than its buffer (which one thread then refuses as longer than its limit, in words)."""
    text = str(exc)
    return "quoted new lines" in text or "does not support a full read" in text


# DuckDB's words for a CSV row with more fields than its sniffer found in the rows it sampled
_MORE_FIELDS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def more_fields(exc: Exception) -> bool:
    """Whether DuckDB refused a CSV file for a row with more fields than the columns it read.
    Its sniffer learns the width from the first rows (about 2,000): a row with more fields
    further on refuses the whole file, where one in the sample becomes a bad row
    (``null_padding``). Read again widened (:meth:`Source.widened_by`)."""
    return _MORE_FIELDS.search(str(exc)) is not None


# DuckDB's words for a CSV it cannot parse, and ours. Only these are shown: the rest of its
# message quotes the offending line, which may hold a patient or reader id.
_CSV_PROBLEMS = (
    ("unterminated quote", "a quoted value is opened and never closed"),
    ("when sniffing file", "its layout is not recognisable as CSV (a quote opened and never "
     "closed, or lines of different shapes)"),
    ("maximum line size", "a line is longer than DuckDB's limit (2 MB)"),
    ("expected number of columns", "a row has hundreds of fields more than the header's columns"),
)  # fmt: skip
NOT_UTF8 = "the bytes are not valid UTF-8 text"
# DuckDB's line count, shown as "near": it counts the header in some errors and not in others.
_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def unreadable(path: Path, exc: Exception) -> FileRefusedError:
    """The refusal of a file DuckDB could not read, in words (:func:`_error_text`); for bytes
    that are not UTF-8, what to do (:func:`ingest.encodings.hint`: the encoding they read as)."""
    text = _error_text(exc)
    if text.endswith(NOT_UTF8):
        text += "; " + encodings.hint(path)
    return FileRefusedError(f"{path.name}: cannot be read as {file_format(path).upper()}: {text}")


def _error_text(exc: Exception) -> str:
    """A reader's error in words for the user, without the file's values (DuckDB's message
    quotes the offending line): the first line of the message, or what the problem is."""
    message = str(exc).strip()
    lines = message.splitlines()
    first = lines[0] if lines else type(exc).__name__
    lowered = message.lower()
    if (
        any(w in first.lower() for w in ("unicode", "utf-8", "utf8"))
        or "invalid unicode" in lowered
    ):
        line = _CSV_LINE.search(first)
        where = f"near line {line.group(1)}: " if line else ""
        return f"{where}{NOT_UTF8}"
    for phrase, words in _CSV_PROBLEMS:
        if phrase in lowered:
            line = _CSV_LINE.search(message)
            return f"near line {line.group(1)}: {words}" if line else words
    if line := _CSV_LINE.search(first):
        return f"near line {line.group(1)}: not parseable as CSV"
    return first[:300]
