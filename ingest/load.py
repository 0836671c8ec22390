"""Load predictions and reads files into the working database, one file = one batch.

A batch is one transaction: it lands whole or not at all, even when the process is killed.
Rows that break a rule go to quarantine with their reason; the good rows of the file load.
Rows are deduplicated on their natural key by an anti-join, so loading a file twice changes
nothing and a later file that corrects a row replaces it. After each committed batch the working
database is published as a snapshot for readers.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.contract import CONTRACTS, NATURAL_KEYS, Column
from ingest.pseudonym import load_key
from ingest.readers import content_hash, load_raw
from ingest.studies import upsert_studies
from radqa import store
from radqa.errors import FileRefusedError, InputError
from radqa.settings import Settings, load_settings

MAX_REASONS = 20


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


def ingest_files(
    data_dir: Path,
    kind: str,
    paths: Sequence[str | Path],
    *,
    strict: bool = False,
    settings: Settings | None = None,
    publish: bool = True,
) -> list[BatchResult]:
    """Load each file as one batch into the working database of ``data_dir``."""
    if kind not in CONTRACTS:
        raise InputError(f"unknown kind {kind!r}; expected one of {', '.join(CONTRACTS)}")
    data_dir = Path(data_dir)
    settings = settings or load_settings(data_dir)
    key = load_key(data_dir)
    con = store.connect_working(data_dir)
    results = []
    try:
        for path in expand_paths(paths):
            result = _ingest_one(con, kind, path, key=key, settings=settings, strict=strict)
            if publish and result.status != "unchanged":
                result.snapshot_id = store.publish_snapshot(con, data_dir).snapshot_id
            results.append(result)
    finally:
        con.close()
    return results


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _pseudonym_sql(raw: str) -> str:
    """HMAC-SHA256 in SQL: sha256(opad || sha256(ipad || message)), keyed by $ipad / $opad."""
    text = f"nullif(trim(cast({raw} as varchar)), '')"
    return f"left(sha256($opad || unhex(sha256($ipad || encode({text})))), 24)"


def _pads(key: bytes) -> dict[str, bytes]:
    import hashlib

    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\0")
    return {
        "ipad": bytes(b ^ 0x36 for b in block),
        "opad": bytes(b ^ 0x5C for b in block),
    }


def _problem_sql(col: Column, present: bool) -> str | None:
    """SQL yielding the rule a row breaks in ``col`` (NULL when fine)."""
    raw, typed = f'"{col.name}"', f'"__t_{col.name}"'
    expected = col.expectation()
    if not present:
        return None  # a missing required column refuses the file before this point
    empty = f"({raw} is null or trim(cast({raw} as varchar)) = '')"
    shown = "'''' || left(cast(" + raw + " as varchar), 60) || ''''"
    bad = f"'column ''{col.name}'' is ' || {shown} || '; expected {expected}'"
    if col.identifier:
        bad = f"'column ''{col.name}'' is not valid; expected {expected}'"
    invalid = f"({typed} is null or not ({col.valid_sql(typed)}))"
    parts = []
    if col.required:
        parts.append(f"when {empty} then 'column ''{col.name}'' is empty; expected {expected}'")
        parts.append(f"when {invalid} then {bad}")
    else:
        parts.append(f"when not {empty} and {invalid} then {bad}")
    return "case " + " ".join(parts) + " end"


def _ingest_one(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    path: Path,
    *,
    key: bytes,
    settings: Settings,
    strict: bool,
) -> BatchResult:
    name = path.name
    started = _now()
    try:
        if not path.is_file():
            raise FileRefusedError(f"{path}: no such file")
        chash = content_hash(path)
    except (OSError, FileRefusedError) as exc:
        return _refuse(con, kind, name, "", started, str(exc))

    prior = con.execute(
        "select batch_id from ingest_batches where kind = ? and content_hash = ? "
        "and status = 'committed' order by batch_id desc limit 1",
        [kind, chash],
    ).fetchall()
    if prior:
        result = BatchResult(name, kind, "unchanged", batch_id=int(prior[0][0]))
        result.message = (
            f"{name}: already loaded as batch {prior[0][0]} (same content); nothing changed"
        )
        return result

    contract = CONTRACTS[kind]
    try:
        found = load_raw(con, path, "_raw")
    except FileRefusedError as exc:
        return _refuse(con, kind, name, chash, started, str(exc))
    names = {c.name for c in contract}
    missing = [c.name for c in contract if c.required and c.name not in found]
    if missing:
        message = (
            f"{name}: missing required column(s): {', '.join(missing)}; "
            f"columns found: {', '.join(found)}"
        )
        return _refuse(con, kind, name, chash, started, message)

    params = {**_pads(key), "file": name}
    _build_checked(con, contract, found, names, params)
    con.execute("begin transaction")
    try:
        result = _write_batch(con, kind, name, chash, started, strict, params, settings)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        for table in ("_raw", "_checked", "_good", "_classified", "_new_studies", "_ops"):
            con.execute(f"drop table if exists {table}")
    return result


def _build_checked(
    con: duckdb.DuckDBPyConnection,
    contract: tuple[Column, ...],
    found: list[str],
    names: set[str],
    params: dict[str, object],
) -> None:
    """Create temp table _checked: typed values, the row's problems, extras, pseudonyms."""
    present = [c for c in contract if c.name in found]
    typed = ", ".join(f'{c.typed_sql(_q(c.name))} as "__t_{c.name}"' for c in present)
    checks = [(c.name, p) for c in present if (p := _problem_sql(c, True))]
    problems = "nullif(concat_ws('; ', " + ", ".join(p for _, p in checks) + "), '')"
    first_col = "case " + " ".join(f"when ({p}) is not null then '{n}'" for n, p in checks) + " end"
    extras = [c for c in found if c not in names]
    extra_sql = (
        "json_object(" + ", ".join(f"'{c}', {_q(c)}" for c in extras) + ")"
        if extras
        else "null::json"
    )
    raw_json = (
        "json_object("
        + ", ".join(
            f"'{IDENTIFIERS.get(c, c)}', "
            + (_pseudonym_sql(_q(c)) if c in IDENTIFIERS else f"cast({_q(c)} as varchar)")
            for c in found
        )
        + ")"
    )
    out = []
    for c in contract:
        if c.identifier:
            expr = _pseudonym_sql(_q(c.name)) if c.name in found else "null::varchar"
            out.append(f"{expr} as {IDENTIFIERS[c.name]}")
        else:
            typed_col = _q("__t_" + c.name) if c.name in found else f"null::{c.sql_type}"
            out.append(f"{typed_col} as {c.name}")
    con.execute(
        f"""
        create or replace temp table _checked as
        select _rn, {", ".join(out)},
               {extra_sql} as extra,
               {problems} as _problems,
               {first_col} as _bad_column,
               case when {problems} is not null then {raw_json} end as _raw_json
        from (select *, {typed} from _raw)
        """,
        {k: v for k, v in params.items() if k in ("ipad", "opad")},
    )


IDENTIFIERS = {"patient_id": "patient_pid", "reader_id": "reader_pid"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _write_batch(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    name: str,
    chash: str,
    started: datetime,
    strict: bool,
    params: dict[str, object],
    settings: Settings,
) -> BatchResult:
    batch_id = int(con.execute("select nextval('batch_seq')").fetchall()[0][0])
    keys = NATURAL_KEYS[kind]
    if kind == "reads":
        con.execute(
            "update _checked set read_role = coalesce(read_role, 'primary'), arm = coalesce(arm, '')"
        )
    _mark_duplicates(con, keys)
    rows_read, bad = con.execute(
        "select count(*), count(*) filter (where _problems is not null) from _checked"
    ).fetchall()[0]
    con.execute(
        """
        insert into quarantine
        select $batch_id, $file, _rn, _bad_column, $file || ': row ' || _rn || ': ' || _problems,
               _raw_json
        from _checked where _problems is not null
        """,
        {"batch_id": batch_id, "file": name},
    )
    reasons = [
        r[0]
        for r in con.execute(
            "select reason from quarantine where batch_id = ? order by row_number limit ?",
            [batch_id, MAX_REASONS],
        ).fetchall()
    ]
    result = BatchResult(
        name, kind, "committed", batch_id=batch_id, rows_read=int(rows_read), quarantined=int(bad)
    )
    result.reasons = reasons
    if strict and bad:
        result.status = "refused"
        result.message = (
            f"{name}: {bad} of {rows_read} rows break the contract; --strict refuses the whole "
            "file (the rows and their reasons are kept in quarantine)"
        )
    else:
        if kind == "predictions":
            _write_predictions(con, batch_id, settings, result)
        else:
            _write_reads(con, batch_id, result)
        result.message = (
            f"{name}: {result.accepted} accepted ({result.inserted} new, {result.replaced} "
            f"replaced, {result.unchanged} unchanged), {result.quarantined} quarantined"
        )
    con.execute(
        """
        insert into ingest_batches values
        ($batch_id, $kind, $file, $hash, $started, $finished, $status, $read, $accepted,
         $inserted, $replaced, $unchanged, $quarantined, $message)
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
        },
    )
    return result


def _mark_duplicates(con: duckdb.DuckDBPyConnection, keys: tuple[str, ...]) -> None:
    """Within one file the last row of a natural key wins; earlier ones go to quarantine."""
    cols = ", ".join(keys)
    total, distinct = con.execute(
        f"select count(*), count(distinct ({cols})) from _checked where _problems is null"
    ).fetchall()[0]
    if total == distinct:
        return
    con.execute(
        f"""
        update _checked set
            _problems = 'duplicate of row ' || d.last_rn || ' (same {", ".join(keys)}); '
                        || 'the last row in the file is kept',
            _bad_column = '{keys[0]}',
            _raw_json = d.raw
        from (
            select _rn, max(_rn) over (partition by {cols}) as last_rn,
                   to_json(struct_pack(study_uid, finding)) as raw
            from _checked where _problems is null
        ) d
        where _checked._rn = d._rn and d._rn < d.last_rn
        """
    )


def _apply(
    con: duckdb.DuckDBPyConnection,
    table: str,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    batch_id: int,
    result: BatchResult,
) -> None:
    counts = dict(
        con.execute("select _action, count(*) from _classified group by _action").fetchall()
    )
    result.inserted = int(counts.get("insert", 0))
    result.replaced = int(counts.get("replace", 0))
    result.unchanged = int(counts.get("same", 0))
    result.accepted = result.inserted + result.replaced + result.unchanged
    if result.replaced:
        on = " and ".join(f"{table}.{k} = c.{k}" for k in keys)
        con.execute(f"delete from {table} using _classified c where c._action = 'replace' and {on}")
    if result.inserted or result.replaced:
        cols = ", ".join(columns)
        con.execute(
            f"insert into {table} ({cols}, row_hash, batch_id) "
            f"select {cols}, row_hash, ? from _classified where _action <> 'same'",
            [batch_id],
        )


PREDICTION_COLUMNS = (
    "study_uid",
    "finding",
    "model_name",
    "model_version",
    "score",
    "predicted",
    "threshold",
    "threshold_source",
    "extra",
)
READ_COLUMNS = (
    "study_uid",
    "finding",
    "reader_pid",
    "read_role",
    "arm",
    "label",
    "read_datetime",
    "rating",
    "ai_assisted",
    "extra",
)


def _write_predictions(
    con: duckdb.DuckDBPyConnection, batch_id: int, settings: Settings, result: BatchResult
) -> None:
    con.execute(
        "create or replace temp table _ops (model_name varchar, finding varchar, threshold double)"
    )
    if settings.operating_points:
        con.executemany(
            "insert into _ops values (?, ?, ?)",
            [(*k.split("/", 1), v) for k, v in settings.operating_points.items()],
        )
    select = """
        g.study_uid, g.finding, g.model_name, g.model_version, g.score,
        coalesce(g.predicted, g.score >= coalesce(g.threshold, o.threshold, 0.5)) as predicted,
        coalesce(g.threshold, o.threshold, 0.5) as threshold,
        case when g.threshold is not null then 'file'
             when o.threshold is not null then 'configured' else 'default' end as threshold_source,
        g.extra
    """
    on = " and ".join(f"t.{k} = g.{k}" for k in NATURAL_KEYS["predictions"])
    con.execute(
        f"""
        create or replace temp table _classified as
        select g.*, case when t.row_hash is null then 'insert'
                         when t.row_hash = g.row_hash then 'same' else 'replace' end as _action
        from (
            select *, hash(score, predicted, threshold, threshold_source, extra) as row_hash
            from (select {select} from _checked g
                  left join _ops o on o.model_name = g.model_name and o.finding = g.finding
                  where g._problems is null)
        ) g
        left join predictions t on {on}
        """
    )
    _apply(con, "predictions", NATURAL_KEYS["predictions"], PREDICTION_COLUMNS, batch_id, result)
    study_cols = (
        "site",
        "modality",
        "body_part",
        "scanner_manufacturer",
        "scanner_model",
        "scanner_software",
        "station",
        "study_datetime",
        "patient_age",
        "patient_sex",
        "patient_pid",
    )
    aggs = ", ".join(f"arg_max({c}, _rn) as {c}" for c in study_cols)
    con.execute(
        f"create or replace temp table _new_studies as select study_uid, {aggs} "
        "from _checked where _problems is null group by study_uid"
    )
    upsert_studies(con, "_new_studies", batch_id=batch_id, source="predictions")


def _write_reads(con: duckdb.DuckDBPyConnection, batch_id: int, result: BatchResult) -> None:
    select = ", ".join(f"g.{c}" for c in READ_COLUMNS)
    on = " and ".join(f"t.{k} = g.{k}" for k in NATURAL_KEYS["reads"])
    con.execute(
        f"""
        create or replace temp table _classified as
        select g.*, case when t.row_hash is null then 'insert'
                         when t.row_hash = g.row_hash then 'same' else 'replace' end as _action
        from (
            select {select}, hash(g.label, g.read_datetime, g.rating, g.ai_assisted, g.extra)
                   as row_hash
            from _checked g where g._problems is null
        ) g
        left join reads t on {on}
        """
    )
    _apply(con, "reads", NATURAL_KEYS["reads"], READ_COLUMNS, batch_id, result)


def _refuse(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    name: str,
    chash: str,
    started: datetime,
    message: str,
) -> BatchResult:
    """Record a file refused whole (its own small transaction) and return the result."""
    batch_id = int(con.execute("select nextval('batch_seq')").fetchall()[0][0])
    con.execute(
        "insert into ingest_batches (batch_id, kind, file_name, content_hash, started_at, "
        "finished_at, status, message) values (?, ?, ?, ?, ?, ?, 'refused', ?)",
        [batch_id, kind, name, chash, started, _now(), message],
    )
    return BatchResult(name, kind, "refused", batch_id=batch_id, message=message)
