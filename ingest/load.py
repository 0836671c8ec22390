"""Load predictions and reads files into the working database, one file = one batch.

A batch is one transaction: it lands whole or not at all, even when the process is killed.
Rows that break a rule go to quarantine with their reason; the good rows of the file load.
Rows are deduplicated on their natural key by a join on the key, so loading a file twice changes
nothing and a later file that corrects a row replaces it. After each batch the working database is
published as a snapshot for readers.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.contract import CONTRACTS, NATURAL_KEYS, titled_name
from ingest.encodings import codec_name, decoded
from ingest.file_warnings import notes as file_notes
from ingest.header_lines import find_header_lines, header_rows, joined_refusal, skipped_note
from ingest.held_ids import find_held
from ingest.outcome import (
    IngestInterrupted,
    PartlyLoaded,
    interrupted,
    interrupted_message,
    machine_failure,
    not_tried,
    publishing,
)
from ingest.pseudonym import check_key_source, hmac_pads, store_key
from ingest.readers import (
    Source,
    content_hash,
    file_format,
    lf_endings,
    literal,
    looks_like_value,
    mixes_line_endings,
    more_fields,
    needs_serial_read,
    not_a_file,
    open_source,
    unreadable,
)
from ingest.redact import hide_ids, shown_name
from ingest.studies import Merged, upsert_studies
from ingest.validate import (
    IDENTIFIERS,
    checked_key,
    checked_sql,
    column_sql,
    decimal_comma,
    dropped_extras,
    kept_extras,
    problems_sql,
    pseudonym_sql,
    q,
    rn_sql,
    row_columns,
    rows_sql,
    study_in_checked,
    unlisted_extras,
)
from radqa import derived, store
from radqa.errors import FileRefusedError, InputError, StoreError, first_line
from radqa.settings import Settings, load_settings

MAX_REASONS = 20

# Stored columns of each table, in the order of the insert (row_hash and batch_id follow).
TABLE_COLUMNS = {
    "predictions": (
        "study_uid", "finding", "model_name", "model_version", "score", "predicted",
        "threshold", "threshold_source", "extra",
    ),
    "reads": (
        "study_uid", "finding", "reader_pid", "read_role", "arm", "label", "read_datetime",
        "rating", "ai_assisted", "extra",
    ),
}  # fmt: skip
# The values whose change makes a row "replaced" rather than "unchanged".
HASHED = {
    "predictions": "score, predicted, threshold, threshold_source, extra",
    "reads": "label, read_datetime, rating, ai_assisted, extra",
}


@dataclass
class BatchResult:
    """What one file's batch did."""

    file: str
    kind: str
    status: str  # committed, unchanged, refused
    batch_id: int | None = None
    rows_read: int = 0
    accepted: int = 0
    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    quarantined: int = 0
    removed: int = 0  # rows an earlier reading of the same file gave, see _drop_earlier_reading
    kept: int = 0  # rows of an earlier reading kept: later files changed or may give them
    message: str = ""
    reasons: list[str] = field(default_factory=list)
    snapshot_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "refused" and self.quarantined == 0


def expand_paths(patterns: Sequence[str | Path]) -> list[Path]:
    """Expand globs; a pattern that matches nothing is kept so that it is reported as missing."""
    paths: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        matches = sorted(glob.glob(text)) if any(ch in text for ch in "*?[") else [text]
        paths.extend(Path(m) for m in (matches or [text]))
    return paths


def file_labels(paths: Sequence[Path]) -> dict[Path, str]:
    """What messages and the batch history call each file: its base name, unless another file
    of the same command has the same base name (``sites/*/preds.csv``): then its path from the
    folder those files share (``osaka/preds.csv``, ``busan/preds.csv``), so that
    "preds.csv: row 2" names one file. The same file given twice keeps its base name."""
    by_name: dict[str, set[Path]] = {}
    for path in paths:
        by_name.setdefault(path.name, set()).add(path.resolve())
    labels: dict[Path, str] = {}
    for path in paths:
        same = by_name[path.name]
        if len(same) < 2:
            labels[path] = path.name
            continue
        shared = Path(os.path.commonpath([p.parent for p in same]))
        labels[path] = path.resolve().relative_to(shared).as_posix()
    return labels


def ingest_files(
    data_dir: Path,
    kind: str,
    paths: Sequence[str | Path],
    *,
    strict: bool = False,
    settings: Settings | None = None,
    publish: bool | str = True,
    cases: bool = True,
    encoding: str | None = None,
) -> list[BatchResult]:
    """Load each file as one batch into the working database of ``data_dir``.

    ``publish=True`` publishes the snapshot after each batch that changed the database (committed
    or refused); ``"end"`` once after the last file (bulk loads: each batch is still its own
    transaction); ``False`` never (the caller publishes). After publishing, the snapshot's cases
    table (:mod:`radqa.derived`) is rebuilt once, at the end, unless ``cases`` is False (a bulk
    load that publishes again right after).

    ``encoding``: the text encoding of the CSV and JSON Lines files (``cp932``, say); by default
    UTF-8, or UTF-16 when a file starts with that byte-order mark (:mod:`ingest.encodings`).
    """
    if kind not in CONTRACTS:
        raise InputError(f"unknown kind {kind!r}; expected one of {', '.join(CONTRACTS)}")
    if encoding is not None:
        codec_name(encoding)  # an unknown name is refused before anything is written
    data_dir = Path(data_dir)
    settings = settings or load_settings(data_dir)
    check_key_source(data_dir)  # a bad key is refused before the database is made
    con = store.connect_working(data_dir)
    scratch = store.scratch_dir(data_dir)
    results: list[BatchResult] = []
    todo = expand_paths(paths)
    labels = file_labels(todo)
    unpublished = False  # a batch changed the working database since the last publish
    loading: Path | None = None  # the file being loaded, None while publishing
    try:
        pads = hmac_pads(store_key(con, data_dir))
        if settings.time_zone:  # validated by load_settings: letters, digits, _ + - / only
            con.execute(f"set TimeZone = '{settings.time_zone}'")
        for path in todo:
            loading = path
            try:
                result = _ingest_one(
                    con,
                    kind,
                    path,
                    label=labels[path],
                    pads=pads,
                    settings=settings,
                    strict=strict,
                    encoding=encoding,
                    scratch=scratch,
                )
            except StoreError as exc:  # a full disk, memory: say what the command did before
                if not results:
                    raise
                done = "; ".join(f"{r.status} {r.message}" for r in results)
                raise PartlyLoaded(
                    f"{exc}. Before it, this command loaded: {done}"
                    + not_tried(len(todo) - len(results) - 1),
                    results,
                ) from exc
            loading = None
            results.append(result)
            unpublished = unpublished or result.status != "unchanged"
            if publish is True and unpublished:
                with publishing(results, len(todo) - len(results)):
                    result.snapshot_id = store.publish_snapshot(con, data_dir).snapshot_id
                unpublished = False
        if publish == "end" and unpublished:
            with publishing(results, 0):
                results[-1].snapshot_id = store.publish_snapshot(con, data_dir).snapshot_id
            unpublished = False
        if publish and results:  # once per command, while it holds the writer's lock
            published = next((r.snapshot_id for r in reversed(results) if r.snapshot_id), None)
            with publishing(results, 0):  # the catch-up publish of an earlier run's batches
                now, notes = derived.finish_writes(con, data_dir, published, cases=cases)
            if now != published:
                results[-1].snapshot_id = now
            results[-1].message += "".join(f"; {note}" for note in notes)
    except (KeyboardInterrupt, duckdb.InterruptException, RuntimeError) as exc:
        if not results or not interrupted(exc):
            raise
        raise IngestInterrupted(
            interrupted_message(results, loading, unpublished and bool(publish))
            + not_tried(len(todo) - len(results) - (loading is not None)),
            results,
        ) from exc
    finally:
        con.close()
    return results


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    path: Path,
    *,
    label: str,
    pads: dict[str, bytes],
    settings: Settings,
    strict: bool,
    encoding: str | None,
    scratch: Path,
) -> BatchResult:
    name = label  # the file's name in messages (:func:`file_labels`)
    started = _now()
    try:
        if not path.is_file():
            raise not_a_file(path)
        size = path.stat().st_size
    except (OSError, FileRefusedError) as exc:
        return _refuse(con, kind, path, "", started, str(exc), pads=pads, label=name)

    # The file's sha256 (hashlib releases the GIL) is computed in a thread while DuckDB checks
    # the rows, unless a committed batch of this kind had the same size: then the file may be one
    # already loaded, and the hash comes first so that an unchanged file costs one read.
    # A file that cannot be read has no hash (''); reading its rows then refuses it.
    context = _reading_context(kind, settings, encoding)
    with ThreadPoolExecutor(1) as pool:
        hashing = pool.submit(_batch_hash, path, context)
        resent: int | None = None  # a batch of the same content, whose rows were replaced since
        why = ""  # what later batches changed of it (:func:`_replaced_since`)
        if _maybe_loaded(con, kind, size):
            prior = store.loaded_batch(con, kind, _hash_or_empty(hashing))
            if prior is not None:
                why = _replaced_since(con, kind, prior.batch_id)
                if not why:
                    return _already_loaded(con, kind, name, prior, pads)
                resent = prior.batch_id

        contract = CONTRACTS[kind]
        source: Source | None = None
        try:
            # the file is read by open_source and _check only; later steps read _checked
            with (
                decoded(path, file_format(path), encoding, scratch) as (data, text_encoding),
                ExitStack() as copy,
            ):
                for last_try in (False, True):
                    try:
                        opened = open_source(
                            con,
                            path,
                            frozenset(c.name for c in contract),
                            read_from=data,
                            encoding=text_encoding,
                            required=tuple(c.name for c in contract if c.required),
                        )
                        source = opened  # named in the refusal, should a check refuse it
                        missing = [
                            c.name for c in contract if c.required and c.name not in opened.lowered
                        ]
                        if missing:
                            raise FileRefusedError(
                                f"{name}: missing required column(s): {', '.join(missing)}; "
                                f"columns found: {', '.join(opened.lowered)}"
                                f"{_other_kind(kind, opened)}"
                            )
                        params: dict[str, object] = {**pads, **opened.params}
                        checked = _check(con, kind, opened, params, settings)
                        break
                    except (duckdb.Error, FileRefusedError) as exc:
                        # DuckDB refuses a CSV file whose lines end in both CRLF and LF (joined
                        # exports): it is read again from a copy whose lines all end in LF. Only
                        # a refused file is scanned for them: a file DuckDB reads pays nothing
                        if last_try or not mixes_line_endings(exc, path, data, text_encoding):
                            raise
                        source = None
                        data, text_encoding = copy.enter_context(
                            lf_endings(path, data, text_encoding, scratch)
                        )
            if con.execute("select count(*) from _checked").fetchall()[0][0] == 0:
                raise FileRefusedError(f"{name}: the file has a header but no data rows")
            chash = hashing.result()
        except (duckdb.Error, FileRefusedError, OSError) as exc:
            for table in ("_checked", "_gaps", "_held"):
                con.execute(f"drop table if exists {table}")
            if machine_failure(exc):  # not the file's fault: not recorded as refused
                raise StoreError(
                    f"{name} was not loaded: {first_line(exc)} (nothing was written; free "
                    "disk space or memory and run the command again)"
                ) from exc
            message = str(unreadable(path, exc) if isinstance(exc, duckdb.Error) else exc)
            return _refuse(
                con,
                kind,
                path,
                _hash_or_empty(hashing),
                started,
                message,
                size,
                pads=pads,
                source=source,
                label=name,
            )

    # the name as stored and shown: without a patient's or reader's id
    shown = shown_name(con, name, pads, _own_ids(con))
    con.execute("begin transaction")
    try:
        result = _write_batch(
            con,
            kind,
            opened,
            shown,
            chash,
            started,
            strict,
            pads,
            settings,
            checked=checked,
            file_bytes=size,
            resent=resent,
            resent_why=why,
        )
        con.execute("commit")
    except BaseException as exc:
        with suppress(duckdb.Error):  # a failed commit ends the transaction itself
            con.execute("rollback")
        if machine_failure(exc):
            raise StoreError(
                f"{name} was not loaded: {first_line(exc)} (the batch was rolled back; free "
                "disk space or memory and run the command again)"
            ) from exc
        raise
    finally:
        for view in ("_new_studies", "_study_rows"):
            con.execute(f"drop view if exists {view}")
        for table in (
            "_checked",
            "_matched",
            "_pids",
            "_affected",
            "_gone",
            "_gaps",
            "_held",
            "_per_study",
        ):
            con.execute(f"drop table if exists {table}")
    return result


def _reading_context(kind: str, settings: Settings, encoding: str | None) -> str:
    """What, besides the file's bytes, decides the rows a file gives: the declared text encoding,
    the time zone, the extra columns kept (``extra_columns``) and, for predictions, the operating
    points. '' when all are the defaults."""
    parts = []
    if encoding is not None:
        parts.append(f"encoding={codec_name(encoding)}")
    if settings.time_zone:
        parts.append(f"time_zone={settings.time_zone}")
    if (listed := settings.extra_column_keys) is not None:  # [] keeps none: not the default
        parts.append(f"extra_columns={','.join(sorted(listed))}")
    if kind == "predictions" and settings.operating_points:
        points = ",".join(f"{k}={v!r}" for k, v in sorted(settings.operating_points.items()))
        parts.append(f"operating_points={points}")
    return "\n".join(parts)


def _batch_hash(path: Path, context: str) -> str:
    """What a batch is known by: the file's sha256, and the reading context when there is one
    (:func:`_reading_context`) after a '+'. A file loaded with the wrong ``--encoding``, or
    before a time zone or an operating point was set, is read again with the new ones, not taken
    as loaded, and replaces what the earlier reading gave (:func:`_drop_earlier_reading`)."""
    return store.batch_hash(content_hash(path), context)


def _other_kind(kind: str, source: Source) -> str:
    """A hint when the file has every required column of another kind (a reads file sent as
    predictions, say), else ''."""
    for other, contract in CONTRACTS.items():
        if other != kind and all(c.name in source.lowered for c in contract if c.required):
            return (
                f"; it has the columns of a {other} file: radqa ingest {other} {source.path.name}"
            )
    return ""


def _check(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: Source,
    params: dict[str, object],
    settings: Settings,
) -> Checked:
    """Run the checking pass (CREATE of ``_checked``) over the file; return what it found
    (:class:`Checked`). Deleting the blank rows keeps the others' rowids, so a CSV row's number
    stays its place in the file.

    A row that would load but holds a patient or reader id in a text or extra column is to be
    quarantined (:func:`ingest.held_ids.find_held`; :func:`_mark_held_ids` marks it once repeated keys are):
    it is found on the distinct values of those columns after the first pass, and needs the
    rows in file order, as a bad row does. An extra column whose name is an id is read again
    without it.

    A CSV / JSON Lines file has no row numbers of its own. They are needed only when a row is
    quarantined or a key repeats (the last row in the file wins), so the pass first runs in
    parallel in any order (10M CSV rows: 8.0 s). Only when a file has such rows is it run again
    with ``preserve_insertion_order`` on, which keeps the rows in file order so that rowid + 1 is
    the data row number (:func:`ingest.validate.rn_sql`; 9.8 s). A ``row_number() over ()``
    would keep the pass on one thread (16 s). DuckDB skips empty lines, which a spreadsheet shows
    as rows: that pass also counts them (:func:`_empty_lines`), for the numbers shown.

    A CSV line that repeats the header (exports joined) is a bad row, looked for among the bad
    rows only (:mod:`ingest.header_lines`): in the header's column order it is deleted before
    the file's ids are read, and its row counted; in another order the file is refused.
    """
    contract = CONTRACTS[kind]
    create = "create or replace temp table _checked as "
    # a row beyond the sniffer's sample with more fields than it found: read again with room
    # for more (DuckDB says only that there is at least one more), then for many more
    widths = [32, 512]
    while True:
        try:
            con.execute(create + checked_sql(kind, contract, source, settings=settings), params)
            break
        except duckdb.Error as exc:
            if needs_serial_read(exc) and source.parallel:
                source = source.serial()  # a quoted value spans lines: one thread, in order
            elif more_fields(exc) and widths:
                source = source.widened_by(widths.pop(0))
            else:
                raise

    def in_file_order() -> None:  # the pass again, rows in file order (rowid + 1 = row)
        con.execute("drop table _checked")  # its memory, before the second pass fills another
        [(before,)] = con.execute("select current_setting('preserve_insertion_order')").fetchall()
        con.execute("set preserve_insertion_order = true")
        try:
            sql = checked_sql(kind, contract, source, ordered=True, settings=settings)
            con.execute(create + sql, params)
            _empty_lines(con, source)
        finally:
            con.execute(f"set preserve_insertion_order = {bool(before)}")

    [(bad, blank)] = con.execute(
        "select count(*) filter (where not _ok and not _blank), count(*) filter (where _blank) "
        "from _checked"
    ).fetchall()
    # exports joined with their header lines (ingest.header_lines): among the bad rows alone
    lines = find_header_lines(con, kind, source, settings, _stored(con)) if bad else None
    if lines and lines.misaligned:  # the rows after it are under the wrong columns: refused
        in_file_order()
        [row, *_] = header_rows(con, lines, gaps=_has_gaps(con), misaligned=True)
        raise joined_refusal(source.path.name, row)  # _refuse shows the file's label
    if lines:  # skipped before the ids of the file are read: its reader_id is 'reader_id'
        con.execute(f"delete from _checked where {lines.test}")
        bad -= lines.count
    held, named = find_held(
        con, kind, source, settings, params, stored=_stored(con), own_ids=_own_ids
    )
    if named:  # an extra column named by an id: read again without it (rare)
        kept = tuple(c for c in kept_extras(source, settings) if c not in named)
        settings = replace(settings, extra_columns=kept)
        con.execute("drop table _checked")
        con.execute(create + checked_sql(kind, contract, source, settings=settings), params)
        if lines:
            con.execute(f"delete from _checked where {lines.test}")
        held, _ = find_held(
            con,
            kind,
            source,
            settings,
            params,
            stored=_stored(con),
            own_ids=_own_ids,
            headers=False,
        )
    duplicates = _has_duplicate_keys(con)
    skipped: list[int] = []  # the rows of the repeated header lines
    if not source.numbered and (bad or duplicates or held or lines):
        in_file_order()
        if lines:
            skipped = header_rows(con, lines, gaps=_has_gaps(con))
            con.execute(f"delete from _checked where {lines.test}")
    con.execute("delete from _checked where _blank")
    return Checked(duplicates, int(blank), named, held, tuple(skipped))


@dataclass(frozen=True)
class Checked:
    """What :func:`_check` found: whether two accepted rows share a natural key (see
    :func:`_mark_duplicates`); how many blank rows (no value at all,
    :func:`ingest.validate._blank_sql`) were skipped; the extra columns (lower case) whose name
    is or holds a patient or reader id, not stored; and the columns where a row that would load
    holds one (:func:`ingest.held_ids.find_held`), as (name, SQL test of a row, what the column holds);
    the rows (as shown) that repeated the header line, skipped (:mod:`ingest.header_lines`)."""

    duplicates: bool
    blank: int
    named_ids: tuple[str, ...] = ()
    held: tuple[tuple[str, str, str], ...] = ()
    header_lines: tuple[int, ...] = ()  # the rows that repeat the header line, skipped


def _mark_held_ids(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    held: tuple[tuple[str, str, str], ...],
    pads: dict[str, bytes],
    settings: Settings,
) -> None:
    """Quarantine the rows of ``_checked`` that would load but hold an id in a column of
    ``held`` (:func:`ingest.held_ids.find_held`): ``_ok`` false, the first such column and the reason in
    ``_held_column`` and ``_held_reason`` (:func:`ingest.validate.problems_sql`), their values
    in ``_raw_json`` as a repeated row's are (:func:`_mark_duplicates`; the id is then hidden
    there by :func:`ingest.redact.hide_ids`). A repeated row keeps its own reason."""
    stored = _stored(con)
    column = " ".join(f"when {test} then {literal(name)}" for name, test, _ in held)
    reason = " ".join(
        f"when {literal(name)} then "
        + literal(f"column '{name}' holds a patient or reader id (not shown); expected {what}")
        for name, _, what in held
    )
    values, params = _raw_values_sql(kind, settings, stored)
    con.execute("alter table _checked add column _held_column varchar")
    con.execute("alter table _checked add column _held_reason varchar")
    con.execute(f"update _checked set _held_column = case {column} end where _ok")
    con.execute(
        f"""
        update _checked set _ok = false, _held_reason = case _held_column {reason} end,
               _raw_json = {values}
        where _held_column is not null
        """,
        {**pads, **params},
    )


def _empty_lines(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Temp table ``_gaps (k, n)``: ``n`` empty lines precede the data rows after the first
    ``k``, for each ``k`` after which one follows; none when the file has no empty line. A row's
    number as shown is its place among the rows read (rowid + 1) plus the ``n`` of the largest
    ``k`` below it (:func:`ingest.validate.problems_sql`), so that it is the row a spreadsheet
    shows: the line after the header is row 1, and an empty line, which DuckDB skips, is a row
    too. A quoted value that spans lines stays one row, as a spreadsheet shows it: in a file
    read start to end (:meth:`ingest.readers.Source.serial`), a line that starts inside quotes
    (an odd number of '"' before it) neither starts a row nor is an empty one.

    Runs with ``preserve_insertion_order`` on (``_lines`` in file order, rowid = line). One read
    of the lines: 10M rows (1.3 GB), 1.3 s on two cores; 2.4 s more for a file read start to
    end, whose quotes are counted line by line.
    """
    if source.numbered:
        return
    con.execute("create or replace temp table _lines as " + source.lines_sql(), source.params)
    try:
        _count_gaps(con, source)
    finally:
        con.execute("drop table _lines")
    if _is_empty(con, "_gaps"):
        con.execute("drop table _gaps")


def _count_gaps(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Temp table ``_gaps`` (see :func:`_empty_lines`) from temp table ``_lines``."""
    if source.parallel:  # no quoted value spans lines: a line that is not empty is a row
        empty = (
            "select rowid + 1 - row_number() over (order by rowid) as rows from _lines where empty"
        )
    else:
        empty = """
            select rows from (
                select empty and not inside as empty,
                       sum((not empty and not inside)::int) over (order by i) as rows
                from (select rowid as i, empty,
                             (sum(quotes) over (order by rowid) - quotes) % 2 = 1 as inside
                      from _lines))
            where empty
        """
    header = 1 if source.fmt == "csv" else 0  # the rows before an empty line, header included
    con.execute(
        f"""
        create or replace temp table _gaps as
        select rows - {header} as k, sum(count(*)) over (order by rows) as n
        from ({empty}) where rows >= {header} group by rows
        """
    )


def _has_duplicate_keys(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether two accepted rows of ``_checked`` have equal key hashes (``_kh``): when none do,
    no two keys are equal; when some do, :func:`_mark_duplicates` compares the keys themselves.

    The hashes are sorted and each compared with the one before it: at 10M rows 0.74-0.84 s,
    against 1.09-1.54 s for ``count(distinct _kh)`` (a hash table of every key)."""
    [(repeated,)] = con.execute(
        "select count(*) from (select _kh = lag(_kh) over (order by _kh) as same "
        "from _checked where _ok) where same"
    ).fetchall()
    return bool(repeated)


def _write_batch(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    source: Source,
    name: str,
    chash: str,
    started: datetime,
    strict: bool,
    pads: dict[str, bytes],
    settings: Settings,
    *,
    checked: Checked,
    file_bytes: int,
    resent: int | None = None,
    resent_why: str = "",
) -> BatchResult:
    batch_id = int(con.execute("select nextval('batch_seq')").fetchall()[0][0])
    keys = NATURAL_KEYS[kind]
    blank, named_ids = checked.blank, checked.named_ids
    if checked.duplicates:
        _mark_duplicates(con, kind, pads, settings)
    if checked.held:
        _mark_held_ids(con, kind, checked.held, pads, settings)
    rows_read, bad = con.execute(
        "select count(*), count(*) filter (where not _ok) from _checked"
    ).fetchall()[0]
    result = BatchResult(
        name, kind, "committed", batch_id=batch_id, rows_read=int(rows_read), quarantined=int(bad)
    )
    _drop_earlier_bad_rows(con, kind, chash, committing=not (strict and bad))
    if bad:
        rows, params = rows_sql(kind, CONTRACTS[kind], settings, _stored(con))
        problems = problems_sql(
            CONTRACTS[kind],
            source.lowered,
            rows,
            gaps=_has_gaps(con),
            zoned=bool(settings.time_zone),  # the values typed as the checking pass typed them
            decimal_comma=decimal_comma(source),
        )
        con.execute(
            f"""
            insert into quarantine
            select $batch_id, $file, _rn, column_name, $file || ': row ' || _rn || ': ' || reason,
                   _raw_json
            from ({problems})
            """,
            {
                "batch_id": batch_id,
                "file": name,
                "first_key": _key_columns(kind)[0],
                "key_list": ", ".join(_key_columns(kind)),
                **params,
            },
        )
        hide_ids(con, batch_id, _own_ids(con), pads)
        result.reasons = [
            r[0]
            for r in con.execute(
                "select reason from quarantine where batch_id = ? order by row_number limit ?",
                [batch_id, MAX_REASONS],
            ).fetchall()
        ]
    if strict and bad:
        result.status = "refused"
        result.message = (
            f"{name}: {bad} of {rows_read} rows break the contract; --strict refuses the whole "
            "file (the rows and their reasons are kept in quarantine)"
        )
    else:
        if kind == "reads":
            _pseudonyms(con, '"_id_reader_id"', pads)  # joined back when the rows are written
        earlier = _earlier_reading(con, kind, chash)
        _merge_rows(con, kind, keys, batch_id, result, settings, earlier)
        _drop_earlier_reading(con, kind, chash, result, earlier)
        if kind == "predictions":
            studies, conflicts = _merge_studies(con, batch_id, pads)
        elif result.inserted or result.replaced or result.removed:
            con.execute(
                "create or replace temp table _affected as "
                "select distinct study_uid, finding from _checked where _ok "
                "union select study_uid, finding from _gone"
            )
            store.refresh_reference(con, "_affected")
        result.message = (
            f"{name}: {result.accepted} accepted ({result.inserted} new, {result.replaced} "
            f"replaced, {result.unchanged} unchanged), {result.quarantined} quarantined"
        )
        if kind == "predictions" and studies.updated:
            # the rows may all be unchanged while their study's site, date or patient is not
            result.message += (
                f"; {studies.updated} known stud{'y' if studies.updated == 1 else 'ies'} "
                "updated with this file's values"
            )
            changed = [
                f"{n} now {what} than the one stored"
                for n, what in (
                    (studies.other_patient, "with another patient"),
                    (studies.other_site, "at another site"),
                )
                if n
            ]
            if changed:
                result.message += (
                    f" ({'; '.join(changed)}: check that this is a correction, not a mix-up"
                    + (
                        ", such as an accession number that two hospitals both use)"
                        if studies.other_site
                        else ")"
                    )
                )
        if kind == "predictions":
            result.message += conflicts
        if resent is not None and resent_why == "studies":  # later files changed its studies only
            result.message += (
                f"; same content as batch {resent}, read again as later files changed the values "
                "of its studies since"
            )
        elif resent is not None:  # not skipped as loaded: later files replaced rows since
            result.message += f"; same content as batch {resent}, read again as later files " + (
                f"replaced {result.replaced} of its rows: this file's values are back"
                if result.replaced
                else "replaced rows since (none of this file's had changed)"
            )
        if result.removed:
            result.message += (
                f"; {result.removed} row(s) that an earlier reading of the same file gave "
                "(other --encoding, time zone or operating points) and this one does not were "
                "removed"
            )
        if result.kept:
            result.message += (
                f"; {result.kept} row(s) of the earlier reading of this file (batch "
                f"{earlier.batch_id if earlier else '?'}) were kept as they are: files loaded "
                "since changed them or may give them too"
            )
        result.message += _spelling_note(con, kind)
        result.message += file_notes(con, kind, source, settings, name)  # versions, thresholds
        if kind == "reads" and result.accepted:
            result.message += _unknown_studies_note(con)
    if blank:
        result.message += f"; {blank} blank row(s) skipped (no value in any column)"
    if checked.header_lines:
        result.message += skipped_note(checked.header_lines)
    if named_ids:
        n = len(named_ids)
        result.message += (
            f"; not stored: {n} column{'s' if n > 1 else ''} whose "
            f"{'names are patient or reader ids' if n > 1 else 'name is a patient or reader id'}"
            " (not shown)"
        )
    dropped = [c for c in dropped_extras(source) if c not in named_ids]
    for other_id in [c for c in dropped if c in IDENTIFIERS]:  # a reads file's patient_id
        dropped.remove(other_id)
        result.message += f"; not stored: {_listed([other_id])} " + (
            "(a read meets its study by study_uid; only a predictions file's patient_id is "
            "kept, as a pseudonym)"
            if kind == "reads"
            else "(a prediction has no reader; only a reads file's reader_id is kept, as a "
            "pseudonym)"
        )
    if dropped:
        says = (
            "its name says it identifies" if len(dropped) == 1 else "their names say they identify"
        )
        result.message += (
            f"; not stored: {_listed(dropped, source.header_names)} ({says} a person; of the ids, only patient_id and "
            "reader_id are kept, as pseudonyms)"
        )
    if unlisted := [c for c in unlisted_extras(source, settings) if c not in named_ids]:
        result.message += (
            f"; not stored: {_listed(unlisted, source.header_names)} (not in extra_columns of "
            "radqa.toml)"
        )
    con.execute(
        """
        insert into ingest_batches values
        ($batch_id, $kind, $file, $hash, $started, $finished, $status, $read, $accepted,
         $inserted, $replaced, $unchanged, $quarantined, $message, $bytes)
        """,
        {
            "batch_id": batch_id,
            "kind": kind,
            "file": name,
            "hash": chash,
            "started": started,
            "finished": _now(),
            "status": result.status,
            "read": result.rows_read,
            "accepted": result.accepted,
            "inserted": result.inserted,
            "replaced": result.replaced,
            "unchanged": result.unchanged,
            "quarantined": result.quarantined,
            "message": result.message,
            "bytes": file_bytes,
        },
    )
    return result


def _unknown_studies_note(con: duckdb.DuckDBPyConnection) -> str:
    """A note for a reads batch whose accepted rows name studies the store does not know (no
    prediction and no DICOM header has named them); '' when it knows them all. Reads may come
    first, and wait; but when a site's reads are keyed otherwise than its predictions (an
    accession number against the StudyInstanceUID) they never meet, and every study stays
    pending without a word. One anti-join of the batch's distinct studies with ``studies``."""
    [(studies, unknown)] = con.execute(
        """
        select count(*), count(*) filter (where s.study_uid is null)
        from (select distinct study_uid from _checked where _ok) r
        left join studies s using (study_uid)
        """
    ).fetchall()
    if not unknown:
        return ""
    if unknown == studies == 1:
        which = "its study is not known yet (no prediction or DICOM header has named it)"
    elif unknown == studies:
        which = f"none of its {studies} studies is known yet (no prediction or DICOM header has named them)"
    else:
        are = "is" if unknown == 1 else "are"
        which = f"{unknown} of its {studies} studies {are} not known yet (no prediction or DICOM header has named {'it' if unknown == 1 else 'them'})"
    return (
        f"; {which}: the reads wait for their predictions; if those never come, check that both "
        "files name a study by the same study_uid (the StudyInstanceUID in both, or the "
        "accession number in both)"
    )


def _spelling_note(con: duckdb.DuckDBPyConnection, kind: str) -> str:
    """A warning for the accepted rows of ``_checked`` whose finding the stored rows of the other
    kind (predictions for reads, reads for predictions) spell otherwise for the same study,
    differing in case alone ('Pneumothorax', 'pneumothorax'): they never meet, so the study
    stays pending. The finding is part of the natural key, so it is not rewritten; '' when
    there are none.

    One query over the batch's distinct (study, finding) pairs of the studies the other table
    holds, when their distinct findings include two that differ in case alone; nothing when it
    is empty (a first load)."""
    other = "predictions" if kind == "reads" else "reads"
    if _is_empty(con, other):
        return ""
    # first the few distinct findings alone: usually no two differ in case alone, and the
    # pairs are not compared (1M stored predictions, 300k reads: 0.7 s for the pairs)
    [(suspects,)] = con.execute(
        f"""
        select list(distinct lower(m.finding))
        from (select distinct finding from _checked where _ok) m
        join (select distinct finding from {other}) t
          on lower(t.finding) = lower(m.finding) and t.finding <> m.finding
        """
    ).fetchall()
    if not suspects:
        return ""
    count, example = con.execute(
        f"""
        with theirs as (
            select distinct study_uid, finding from {other}
            where list_contains($suspects, lower(finding))
              and study_uid in (select study_uid from _checked where _ok)
        ),
        pairs as (
            select study_uid, finding, count(*) as n from _checked
            where _ok and list_contains($suspects, lower(finding))
              and study_uid in (select study_uid from theirs)
            group by study_uid, finding
        ),
        differ as (
            select p.finding as mine, min(t.finding) as theirs, any_value(p.n) as n
            from pairs p join theirs t
              on t.study_uid = p.study_uid and lower(t.finding) = lower(p.finding)
            group by p.study_uid, p.finding
            having not bool_or(t.finding = p.finding)
        )
        select sum(n), min([mine, theirs]) from differ
        """,
        {"suspects": suspects},
    ).fetchall()[0]
    if not count:
        return ""
    mine, theirs = example  # the first pair in order: the message is the same each time
    rows = (
        ("read names", "reads name")
        if kind == "reads"
        else ("prediction names", "predictions name")
    )[count != 1]
    return (
        f"; {count} {rows} a finding that the {other} of their study spell differently "
        f"('{mine}' vs '{theirs}'): they will not count until the spellings agree"
    )


def _listed(columns: Sequence[str], spelled: Mapping[str, str] | None = None) -> str:
    """``columns`` named in a message: ``column(s) 'a', 'b'``; those whose name reads as a value
    (:func:`ingest.readers.looks_like_value`: the line may be a data row) or is a person's name
    (:func:`ingest.contract.titled_name`: ``Dr Tanaka Hanako``, as ``spelled`` writes it: the
    header's spelling of each lower-case name) counted, not named."""
    spelled = spelled or {}
    valued = [c for c in columns if looks_like_value(c)]
    named = [c for c in columns if c not in valued and titled_name(spelled.get(c, c))]
    shown = [c for c in columns if c not in valued and c not in named]
    quoted = ", ".join(f"'{c}'" for c in shown)
    parts = [f"column(s) {quoted}"] if shown else []
    if valued:
        parts.append(
            f"{len(valued)} column{'s' if len(valued) > 1 else ''} whose "
            f"{'names read as values' if len(valued) > 1 else 'name reads as a value'} (not shown)"
        )
    if named:
        parts.append(
            f"{len(named)} column{'s' if len(named) > 1 else ''} named after a person (not shown)"
        )
    return " and ".join(parts)


# The committed batches of kind $kind that read the bytes $raw in another way than $hash
# (:func:`_batch_hash`): the earlier readings of a file.
_EARLIER_READINGS = (
    "select batch_id from ingest_batches where kind = $kind and status = 'committed' "
    f"and {store.FILE_DIGEST} = $raw and content_hash <> $hash"
)


def _reading_params(kind: str, chash: str) -> dict[str, object]:
    return {"kind": kind, "raw": store.file_digest(chash), "hash": chash}


@dataclass(frozen=True)
class EarlierReading:
    """The committed batches that read the same file bytes in another way (another
    ``--encoding``, time zone, operating points or extra columns; :func:`_batch_hash`): the
    latest (``batch_id``), the first and all of them, and whether other batches of the kind were
    committed after the first (``followed``): a row such a batch changed is newer than every
    reading of the file, however many there were since."""

    batch_id: int
    followed: bool
    first: int = 0
    readings: tuple[int, ...] = ()

    def changed_since_sql(self, column: str = "t.batch_id") -> str:
        """SQL: whether the row written by batch ``column`` was written by another batch than
        a reading of this file, after its first reading."""
        readings = ", ".join(str(b) for b in self.readings) or "null"
        return f"({column} > {self.first} and {column} not in ({readings}))"


def _earlier_reading(
    con: duckdb.DuckDBPyConnection, kind: str, chash: str
) -> EarlierReading | None:
    readings = tuple(
        int(b)
        for (b,) in con.execute(
            f"select batch_id from ({_EARLIER_READINGS}) order by batch_id",
            _reading_params(kind, chash),
        ).fetchall()
    )
    if not readings:
        return None
    earlier = EarlierReading(readings[-1], False, readings[0], readings)
    [(followed,)] = con.execute(
        "select exists (select 1 from ingest_batches where kind = ? and status = 'committed' "
        f"and {earlier.changed_since_sql('batch_id')})",
        [kind],
    ).fetchall()
    return replace(earlier, followed=bool(followed))


def _drop_earlier_reading(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    chash: str,
    result: BatchResult,
    earlier: EarlierReading | None,
) -> None:
    """Remove the rows that earlier readings of the same file bytes (:func:`_batch_hash`) gave
    and this batch does not: read with the wrong encoding, a finding '결절' became 'ｰ眤', a key
    of its own that the right reading never replaces. Rows this batch also gave stay (inserted,
    replaced or unchanged).

    Only when no other batch of the kind was committed after the earlier reading: a file loaded
    since may give the same rows (its rows matched the earlier reading's and kept their batch),
    and removing them would lose them for good. Then they are counted in ``result.kept`` and
    the message says so. Temp table ``_gone`` holds the removed rows' study_uid and finding."""
    table = kind
    con.execute(
        f"create or replace temp table _gone as select study_uid, finding from {table} limit 0"
    )
    if earlier is None:
        return
    keys = NATURAL_KEYS[kind]
    if kind == "reads":
        incoming = (
            "select c.study_uid, c.finding, p.pid as reader_pid, c.read_role, c.arm "
            'from _checked c join _pids p on p.id = c."_id_reader_id" where c._ok'
        )
    else:
        incoming = f"select {', '.join(keys)} from _checked where _ok"
    on = " and ".join(f"k.{c} = t.{c}" for c in keys)
    stale = (
        f"where t.batch_id in ({_EARLIER_READINGS}) "
        f"and not exists (select 1 from ({incoming}) k where {on})"
    )
    params = _reading_params(kind, chash)
    if earlier.followed:
        [(kept,)] = con.execute(f"select count(*) from {table} t {stale}", params).fetchall()
        result.kept += int(kept)
        return
    con.execute(f"insert into _gone select t.study_uid, t.finding from {table} t {stale}", params)
    [(gone,)] = con.execute("select count(*) from _gone").fetchall()
    if gone:
        con.execute(f"delete from {table} t {stale}", params)
    result.removed = int(gone)


def _drop_earlier_bad_rows(
    con: duckdb.DuckDBPyConnection, kind: str, chash: str, *, committing: bool
) -> None:
    """The quarantined rows of earlier batches of the same file bytes give way to this batch's
    (Data health listed a bad row once per batch): those of batches refused by --strict, and,
    when this batch commits, those of earlier readings (other encoding, time zone, operating
    points or extra columns). A batch refused by --strict leaves a committed reading's rows."""
    statuses = "'refused', 'committed'" if committing else "'refused'"
    con.execute(
        "delete from quarantine where batch_id in (select batch_id from ingest_batches "
        f"where kind = $kind and status in ({statuses}) and {store.FILE_DIGEST} = $raw)",
        {"kind": kind, "raw": store.file_digest(chash)},
    )


def _key_columns(kind: str) -> tuple[str, ...]:
    """The natural key as the file names it (reader_id, not its pseudonym)."""
    return tuple("reader_id" if k == "reader_pid" else k for k in NATURAL_KEYS[kind])


def _has_gaps(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether :func:`_empty_lines` found empty lines between the rows (temp table ``_gaps``)."""
    return _exists(con, "_gaps")


def _stored(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The columns of temp table ``_checked``."""
    return {row[0] for row in con.execute("describe _checked").fetchall()}


def _mark_duplicates(
    con: duckdb.DuckDBPyConnection, kind: str, pads: dict[str, bytes], settings: Settings
) -> None:
    """Within one file the last row of a natural key wins; earlier ones go to quarantine with
    their values (identifiers as pseudonyms), so nothing is lost. Adds column ``_dup_of`` (the
    row kept) to ``_checked``. Called when :func:`_has_duplicate_keys` found equal key hashes."""
    cols = ", ".join(checked_key(kind))
    stored = _stored(con)
    rn = rn_sql(stored)
    values, params = _raw_values_sql(kind, settings, stored, "_checked.")
    con.execute("alter table _checked add column _dup_of bigint")
    con.execute(
        f"""
        update _checked set _ok = false, _dup_of = d.last_rn, _raw_json = {values}
        from (
            select {rn} as _rn, max({rn}) over (partition by {cols}) as last_rn
            from _checked where _ok
        ) d
        where {rn_sql(stored, "_checked.")} = d._rn and d._rn < d.last_rn
        """,
        {**pads, **params},
    )


def _raw_values_sql(
    kind: str, settings: Settings, stored: set[str], prefix: str = ""
) -> tuple[str, dict[str, object]]:
    """SQL of a ``_checked`` row's values as JSON, as quarantine keeps them for a row that was
    good when read (a repeated key, an id in another column): the values as checked, the ids as
    their pseudonyms; and its parameters (besides the HMAC pads)."""
    columns, params = row_columns(kind, CONTRACTS[kind], settings, stored, prefix)
    values = []
    for name, sql in columns:
        if name.startswith("_id_"):
            values.append(f"'{IDENTIFIERS[name.removeprefix('_id_')]}', {pseudonym_sql(sql)}")
        else:
            values.append(f"'{name}', {sql}")
    return f"json_object({', '.join(values)})", params


def _pseudonyms(
    con: duckdb.DuckDBPyConnection,
    column: str,
    pads: dict[str, bytes],
    source: str = "_checked where _ok",
) -> None:
    """Temp table ``_pids (id, pid)``: the HMAC pseudonym of each distinct identifier in
    ``column`` of ``source`` (the accepted rows by default), computed once per id."""
    con.execute(
        f"""
        create or replace temp table _pids as
        select id, {pseudonym_sql("id")} as pid
        from (select distinct {column} as id from {source})
        """,
        pads,
    )


def _is_empty(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return not con.execute(f"select exists (select 1 from {table})").fetchall()[0][0]


def _merge_rows(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    keys: tuple[str, ...],
    batch_id: int,
    result: BatchResult,
    settings: Settings,
    earlier: EarlierReading | None = None,
) -> None:
    """Insert new rows, replace changed ones, leave unchanged ones: a join on the natural key.

    Into an empty table (a first load) every accepted row is new: no join, a plain insert.
    When the batch reads again a file read before in another way (``earlier``), a row a later
    batch changed is kept as it is (counted in ``result.kept``): reading a file again with the
    right encoding must not undo a correction loaded since.
    """
    table, columns = kind, TABLE_COLUMNS[kind]
    checked, params = rows_sql(kind, CONTRACTS[kind], settings, _stored(con))
    if kind == "reads":
        rows = (
            f"select c.*, p.pid as reader_pid from ({checked}) c "
            'join _pids p on p.id = c."_id_reader_id" where c._ok'
        )
    else:
        rows = f"select * from ({checked}) where _ok"
    incoming = f"select *, hash({HASHED[kind]}) as row_hash from ({rows})"
    cols = ", ".join(columns)
    accepted = con.execute("select count(*) from _checked where _ok").fetchall()[0][0]
    result.accepted = int(accepted)
    if _is_empty(con, table):
        result.inserted = int(accepted)
        if accepted:
            con.execute(
                f"""
                insert into {table} ({cols}, row_hash, batch_id)
                select {cols}, row_hash, $batch_id from ({incoming})
                """,
                {"batch_id": batch_id, **params},
            )
        return
    on = " and ".join(f"t.{k} = g.{k}" for k in keys)
    if kind == "predictions":
        # joined on one number, the key's hash (_kh), and the keys compared on the hash's
        # matches: "is true" keeps the optimizer from making the four text columns join keys
        # (half-loaded 1M batch: 0.20 -> 0.13 s)
        stored = f"(select *, hash({', '.join(keys)}) as _th from {table})"
        join = f"{stored} t on t._th = g._kh where ({on}) is true"
    else:
        join = f"{table} t on {on}"
    since = earlier.changed_since_sql() if earlier else "false"
    con.execute(
        f"""
        create or replace temp table _matched as
        select g._rn, t.row_hash = g.row_hash or {since} as same,
               t.row_hash <> g.row_hash and {since} as later
        from ({incoming}) g join {join}
        """,
        params,
    )
    matched, same, later = con.execute(
        "select count(*), count(*) filter (where same), count(*) filter (where later) from _matched"
    ).fetchall()[0]
    result.replaced = int(matched - same)
    result.unchanged = int(same - later)
    result.kept += int(later)
    result.inserted = int(accepted - matched)
    if result.replaced:
        on_replace = " and ".join(f"{table}.{k} = g.{k}" for k in keys)
        con.execute(
            f"""
            delete from {table} using ({incoming}) g
            where {on_replace}
              and g._rn in (select _rn from _matched where not same)
            """,
            params,
        )
    if result.inserted or result.replaced:
        con.execute(
            f"""
            insert into {table} ({cols}, row_hash, batch_id)
            select {cols}, row_hash, $batch_id from ({incoming}) g
            where not exists (select 1 from _matched m where m._rn = g._rn and m.same)
            """,
            {"batch_id": batch_id, **params},
        )


def _merge_studies(
    con: duckdb.DuckDBPyConnection, batch_id: int, pads: dict[str, bytes]
) -> tuple[Merged, str]:
    """One row per study from the prediction rows; each distinct patient pseudonymised once.
    Returns what :func:`ingest.studies.upsert_studies` did, and a warning for the studies whose
    rows name two sites or two patients (:func:`_study_conflicts`; '' when none do).

    Where a study's rows disagree, each column takes the largest value (``max``; NULLs ignored).
    Nearly always they agree (a file repeats the study's values on each finding's row), so the
    study is found by a cheap group-by (its largest row number and the range of ``_sh``, the hash
    of its values) and its values are read from that row (any row would do: they agree);
    ``max()`` over 12 text columns runs only for the studies whose hashes differ. The result is
    that of ``max()`` (unless two different rows of one study had equal 64-bit hashes) at about a
    third of the cost. The study rows are a view: the merge reads them once, without a temp table.

    HMAC-SHA256 costs about 1.4 us an id in DuckDB, so it runs over the distinct patient ids of
    the accepted rows (far fewer than the rows) and is joined back.
    """
    cols = study_in_checked()
    stored, contract = _stored(con), CONTRACTS["predictions"]
    aggs = ", ".join(f"max({column_sql(c, stored, contract)}) as {c}" for c in cols)
    con.execute(
        f"""
        create or replace temp table _per_study as
        select study_uid, max({rn_sql(stored)}) as last_rn, min(_sh) = max(_sh) as agree
        from _checked where _ok
        group by study_uid
        """
    )
    con.execute(
        f"""
        create or replace temp view _study_rows as
        select c.study_uid, {", ".join(f"{column_sql(c, stored, contract, 'c.')} as {c}" for c in cols)}
        from _checked c join _per_study s on {rn_sql(stored, "c.")} = s.last_rn
        where s.agree
        union all
        select study_uid, {aggs}
        from _checked
        where _ok and study_uid in (select study_uid from _per_study where not agree)
        group by study_uid
        """
    )
    conflicts = _study_conflicts(con)
    _pseudonyms(con, '"_id_patient_id"', pads)
    con.execute(
        """
        create or replace temp view _new_studies as
        select s.* exclude ("_id_patient_id"), p.pid as patient_pid
        from _study_rows s join _pids p on p.id = s."_id_patient_id"
        """
    )
    return upsert_studies(con, "_new_studies", batch_id=batch_id, source="predictions"), conflicts


def _study_conflicts(con: duckdb.DuckDBPyConnection) -> str:
    """A warning for the studies whose accepted rows in ``_checked`` name two or more sites, or
    two or more patients; '' when none do. Such a study is stored once, by the ``max()`` rule
    of :func:`_merge_studies`, which is right for a column one row leaves empty but hides a
    mix-up: an accession number that two hospitals both use is one study_uid for two studies.
    Only the studies whose rows disagree at all (``_per_study.agree`` false; rare) are read."""
    [(sites, patients, examples)] = con.execute(
        """
        select count(*) filter (where sites > 1), count(*) filter (where patients > 1),
               list(study_uid order by study_uid) filter (where sites > 1 or patients > 1)[:3]
        from (
            select study_uid, count(distinct site) as sites,
                   count(distinct "_id_patient_id") as patients
            from _checked
            where _ok and study_uid in (select study_uid from _per_study where not agree)
            group by study_uid
        )
        """
    ).fetchall()
    if not (sites or patients):
        return ""
    parts = []
    if sites:
        parts.append(f"{sites} {_studies(sites)} whose rows name two or more sites")
    if patients:
        parts.append(f"{patients} {_studies(patients)} whose rows name two or more patients")
    return (
        f"; check {' and '.join(parts)} (e.g. {', '.join(examples)}): a study_uid "
        "is stored as one study, with the values that sort last, so an accession number that "
        "two hospitals both use mixes two studies; give each hospital's studies their own "
        "study_uid"
    )


def _studies(count: int) -> str:
    return "study" if count == 1 else "studies"


def _refuse(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    path: Path,
    chash: str,
    started: datetime,
    message: str,
    file_bytes: int | None = None,
    *,
    pads: dict[str, bytes],
    source: Source | None = None,
    label: str | None = None,
) -> BatchResult:
    """Record a file refused whole (its own small transaction) and return the result.

    Its name, and its path where the message gives it, are stored and shown without an id
    (:func:`ingest.redact.shown_name`): one the store knows, or, when the file could be opened
    (``source``) and has an id column, one of its own."""
    own, params = _source_ids(source)
    label = label or path.name
    try:
        name = shown_name(con, label, pads, own, params)
        shown_path = shown_name(con, str(path), pads, own, params)
    except duckdb.Error:  # the file's ids cannot be read after all: those the store knows
        name, shown_path = shown_name(con, label, pads), shown_name(con, str(path), pads)
    # the message names the file by its label (ours) or by its path or base name (a reader's);
    # each is set aside before any is put back: 'osaka/preds.csv' must not become 'osaka/osaka/..'
    at_path, at_name = "\x00path\x00", "\x00name\x00"
    message = message.replace(str(path), at_path).replace(label, at_name)
    message = message.replace(path.name, at_name)
    message = message.replace(at_path, shown_path).replace(at_name, name)
    batch_id = int(con.execute("select nextval('batch_seq')").fetchall()[0][0])
    con.execute(
        "insert into ingest_batches (batch_id, kind, file_name, content_hash, started_at, "
        "finished_at, status, message, file_bytes) values (?, ?, ?, ?, ?, ?, 'refused', ?, ?)",
        [batch_id, kind, name, chash, started, _now(), message, file_bytes],
    )
    return BatchResult(name, kind, "refused", batch_id=batch_id, message=message)


def _own_ids(con: duckdb.DuckDBPyConnection) -> str | None:
    """A SELECT of the raw patient and reader ids of temp table ``_checked`` (column ``id``);
    None when it has none."""
    ids = [f"select {q(c)} as id from _checked" for c in _stored(con) if c.startswith("_id_")]
    if _exists(con, "_held"):  # the ids found in other columns (a stored one in another case)
        ids.append("select id from _held")
    return " union all ".join(ids) or None


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether temp table ``table`` exists."""
    [(found,)] = con.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = ?", [table]
    ).fetchall()
    return bool(found)


def _source_ids(source: Source | None) -> tuple[str | None, dict[str, object]]:
    """A SELECT of the raw patient and reader ids of a file opened but refused (column ``id``)
    and its parameters; (None, {}) when it has no id column."""
    if source is None:
        return None, {}
    ids = [
        f"select {c.typed_sql(source.ref(c.name))} as id from ({source.scan_sql()})"
        for c in CONTRACTS["predictions"] + CONTRACTS["reads"]
        if c.identifier and c.name in source.lowered
    ]
    return (" union all ".join(ids) or None), dict(source.params)


def _already_loaded(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    name: str,
    prior: store.LoadedBatch,
    pads: dict[str, bytes],
) -> BatchResult:
    """The result for a file whose content the committed batch ``prior`` of ``kind`` already
    loaded, none of whose rows was replaced since (:func:`_replaced_since`).

    Its name is shown without the ids the store knows and those of the rows that batch
    quarantined (:func:`ingest.redact.shown_name`): the file is not read again, and when all its
    rows were quarantined the store knows none of its ids."""
    its_pids = " union all ".join(
        f"select raw ->> '{pid}' from quarantine where batch_id = {prior.batch_id}"
        for pid in IDENTIFIERS.values()
    )
    name = shown_name(con, name, pads, also_known=its_pids)
    result = BatchResult(name, kind, "unchanged", batch_id=prior.batch_id)
    result.message = (
        f"{name}: already loaded as batch {prior.batch_id} (same content); nothing changed"
    )
    if quarantined := prior.rows_quarantined:
        result.message += (
            f"; {quarantined} of its rows {'is' if quarantined == 1 else 'are'} still in "
            "quarantine from that batch (Data health lists them): a corrected file loads them"
        )
    return result


def _replaced_since(con: duckdb.DuckDBPyConnection, kind: str, batch_id: int) -> str:
    """What a later batch may have changed of what batch ``batch_id`` gave (a correction):
    'rows' when a row it gave may have been replaced, 'studies' when (predictions only) the
    values of a study it gave were (:func:`_studies_changed_since`), '' when neither. Then the
    same content loaded again is read again, and its values replace the later ones
    (re-sending the original undoes a bad correction).

    Exact and cheap: when no later committed batch of ``kind`` replaced a row (their
    ``rows_replaced``, a few rows of ``ingest_batches``), nothing it gave was replaced. Else,
    when the batch wrote every row it gave (none unchanged), they are intact if the table still
    holds as many rows of that batch as it wrote (one count over ``batch_id``, about 10 ms at 10M
    rows). A batch that found some of its rows unchanged kept them under an earlier batch's id:
    its file is then read again (its rows come out unchanged when nothing of theirs changed)."""
    [(later, written, unchanged)] = con.execute(
        """
        select (select count(*) from ingest_batches l where l.kind = b.kind
                  and l.status = 'committed' and l.batch_id > b.batch_id and l.rows_replaced > 0),
               coalesce(b.rows_inserted, 0) + coalesce(b.rows_replaced, 0),
               coalesce(b.rows_unchanged, 0)
        from ingest_batches b where b.batch_id = ?
        """,
        [batch_id],
    ).fetchall()
    if later and unchanged:
        return "rows"
    if later:
        [(held,)] = con.execute(
            f"select count(*) from {kind} where batch_id = ?", [batch_id]
        ).fetchall()
        if held != written:
            return "rows"
    if kind == "predictions" and _studies_changed_since(con, batch_id, unchanged=bool(unchanged)):
        return "studies"
    return ""


def _studies_changed_since(
    con: duckdb.DuckDBPyConnection, batch_id: int, *, unchanged: bool
) -> bool:
    """Whether a later batch (predictions or DICOM headers) wrote the stored values of a study
    that predictions batch ``batch_id`` gave: a later file that moved a study to another site,
    say, while its prediction rows stayed as they were. Free when no committed batch of either
    kind came later (an unchanged file sent again at once); else one semi-join of the studies
    written since with the batch's rows. A batch that found rows unchanged kept them under an
    earlier batch's id, so its studies are not all known: it is then read again."""
    [(later,)] = con.execute(
        "select count(*) from ingest_batches where batch_id > ? and status = 'committed' "
        "and kind in ('predictions', 'dicom')",
        [batch_id],
    ).fetchall()
    if not later:
        return False
    if unchanged:
        return True
    [(changed,)] = con.execute(
        """
        select exists (
            select 1 from studies
            where batch_id > $b
              and study_uid in (select study_uid from predictions where batch_id = $b)
        )
        """,
        {"b": batch_id},
    ).fetchall()
    return bool(changed)


def _maybe_loaded(con: duckdb.DuckDBPyConnection, kind: str, size: int) -> bool:
    """Whether a committed batch of ``kind`` may hold this file: one of its size, or one recorded
    before sizes were (schema version 3)."""
    [(found,)] = con.execute(
        "select exists (select 1 from ingest_batches where kind = ? and status = 'committed' "
        "and (file_bytes = ? or file_bytes is null))",
        [kind, size],
    ).fetchall()
    return bool(found)


def _hash_or_empty(hashing: Future[str]) -> str:
    """The file's content hash for a refused batch's record, or '' when it could not be read."""
    try:
        return hashing.result()
    except OSError:
        return ""
