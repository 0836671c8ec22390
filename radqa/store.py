"""The DuckDB store: the working file (one writer: ingest) and the published snapshot (readers).

Ingest writes ``radqa-work.duckdb``. After each committed batch :func:`publish_snapshot` copies it
to a new file and moves that over ``radqa.duckdb`` with an atomic rename, so readers (dashboard,
reports) open a complete snapshot read-only and never meet the writer's lock.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from radqa.errors import StoreError

WORKING_NAME = "radqa-work.duckdb"
SNAPSHOT_NAME = "radqa.duckdb"
SCHEMA_VERSION = 1

# Forward migrations: version -> SQL resource applied to reach it. Never edit a released one;
# add the next version instead.
MIGRATIONS: dict[int, str] = {1: "schema_v1.sql"}


def working_path(data_dir: Path) -> Path:
    return Path(data_dir) / WORKING_NAME


def snapshot_path(data_dir: Path) -> Path:
    return Path(data_dir) / SNAPSHOT_NAME


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the database behind ``con`` (0 for an empty database)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_name = 'schema_version'"
    ).fetchone()
    if not exists or exists[0] == 0:
        return 0
    row = con.execute("select max(version) from schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the database's version; return the version reached."""
    con.execute(
        "create table if not exists schema_version (version integer not null, applied_at timestamp)"
    )
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema version {current}, newer than this RadQA knows "
            f"({SCHEMA_VERSION}); upgrade RadQA"
        )
    for version in sorted(v for v in MIGRATIONS if v > current):
        sql = resources.files("radqa").joinpath(MIGRATIONS[version]).read_text()
        con.execute("begin")
        try:
            con.execute(sql)
            con.execute(
                "insert into schema_version values (?, ?)",
                [version, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return SCHEMA_VERSION


def connect_working(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the working database for writing, schema migrated."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(working_path(data_dir)))
    except duckdb.IOException as exc:
        raise StoreError(
            f"cannot open {working_path(data_dir)} for writing: {exc}. Only one ingest may run "
            "at a time; wait for the other one to finish."
        ) from exc
    migrate(con)
    return con


def content_id(con: duckdb.DuckDBPyConnection) -> str:
    """A deterministic id of the data: sha256 over the committed batches' file hashes.

    Two snapshots built from the same files in the same order have the same id, which is what
    lets a report cite the data it was computed from and stay the same when run twice.
    """
    rows = con.execute(
        """
        select kind, content_hash, rows_inserted, rows_replaced
        from ingest_batches
        where status = 'committed'
        order by batch_id
        """
    ).fetchall()
    digest = hashlib.sha256()
    for row in rows:
        digest.update("|".join(str(v) for v in row).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: str
    published_at: datetime
    schema_version: int
    path: Path


def publish_snapshot(con: duckdb.DuckDBPyConnection, data_dir: Path) -> SnapshotInfo:
    """Copy the working database to a new file and rename it over the published snapshot."""
    data_dir = Path(data_dir)
    final = snapshot_path(data_dir)
    tmp = data_dir / f".{SNAPSHOT_NAME}.{os.getpid()}.tmp"
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    sid = content_id(con)
    published = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    source = con.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    con.execute(f"attach '{tmp}' as radqa_snapshot")
    try:
        con.execute(f'copy from database "{source}" to radqa_snapshot')
        con.execute(
            """
            create table radqa_snapshot.snapshot_info as
            select ?::varchar as snapshot_id, ?::timestamp as published_at,
                   ?::integer as schema_version
            """,
            [sid, published, SCHEMA_VERSION],
        )
    finally:
        con.execute("detach radqa_snapshot")
    os.replace(tmp, final)
    return SnapshotInfo(sid, published, SCHEMA_VERSION, final)


def open_snapshot(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open the published snapshot read-only."""
    path = snapshot_path(Path(data_dir))
    if not path.exists():
        raise StoreError(
            f"no published snapshot at {path}; load data first "
            "(`radqa demo` or `radqa ingest predictions FILE`)"
        )
    return duckdb.connect(str(path), read_only=True)


def snapshot_info(con: duckdb.DuckDBPyConnection) -> SnapshotInfo | None:
    """The snapshot's id and publication time, or None for a database that is not a snapshot."""
    try:
        row = con.execute(
            "select snapshot_id, published_at, schema_version from snapshot_info"
        ).fetchone()
    except duckdb.CatalogException:
        return None
    if row is None:
        return None
    path = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return SnapshotInfo(row[0], row[1], int(row[2]), Path(path[0] if path and path[0] else ""))


def memory_store() -> duckdb.DuckDBPyConnection:
    """An in-memory database with the schema applied (tests, notebooks)."""
    con = duckdb.connect(":memory:")
    migrate(con)
    return con
