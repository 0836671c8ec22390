"""The DuckDB store: the working file (one writer: ingest) and the published snapshot (readers).

Ingest writes ``radqa-work.duckdb``. After each committed batch :func:`publish_snapshot` copies it
to a new file and moves that over ``radqa.duckdb`` with an atomic rename, so readers (dashboard,
reports) open a complete snapshot read-only and never meet the writer's lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb

from radqa.errors import ConfigError, StoreError, first_line

# DuckDB takes up to 80% of the machine's memory by default; a hospital server runs other
# things. Writers stay under 1 GB (ingest spills its staging tables to disk beyond that), readers
# under 1.6 GB (a 10M-row grouped summary then peaks under 2 GB with Python's share).
WRITER_MEMORY_ENV = "RADQA_WRITER_MEMORY"
READER_MEMORY_ENV = "RADQA_READER_MEMORY"
DASHBOARD_MEMORY_ENV = "RADQA_DASHBOARD_MEMORY"
DEFAULT_WRITER_MEMORY = "1GB"
DEFAULT_READER_MEMORY = "1600MB"
# The dashboard only reads; its heaviest query (a grouped summary over 10M predictions) spills
# to disk beyond this, so the server stays under 1.5 GB with Python's share.
DEFAULT_DASHBOARD_MEMORY = "800MB"
#: A memory size: a number above 0 and a unit, KB, MB, GB, TB (powers of 1000) or KiB, MiB,
#: GiB, TiB (powers of 1024); any case, the B optional, a space allowed before the unit. A subset
#: of what DuckDB reads ("1GB"), without its "-1" or "none" (no cap), a bare number of bytes
#: (which it refuses) or a word ("1 gigabyte").
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt])(?:(i)?b)?\s*", re.IGNORECASE)


#: The smallest memory setting: far below it DuckDB fails on the first query ("1KB": "Failed to
#: change memory limit"; a one-row ingest needs 8MB, tests spill batches to disk at 48MB); the largest is the machine's memory (a larger number overflowed
#: DuckDB's parser, "Memory value out of range", and would cap nothing).
MIN_MEMORY_BYTES = 32 * 1000**2
_UNIT = {"k": 1, "m": 2, "g": 3, "t": 4}


def _machine_memory() -> int:
    """This machine's physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _memory_setting(env: str, default: str) -> str:
    """The value of the memory setting ``env`` (``default`` when unset); ConfigError, naming
    the variable and its value, unless it is a size such as 1GB or 800MB from 32MB up to the
    machine's memory."""
    value = os.environ.get(env, default)
    size = _SIZE.fullmatch(value)
    if size is None or float(size.group(1)) <= 0:
        raise ConfigError(f"{env} is {value!r}; expected a size such as 1GB or 800MB")
    base = 1024 if size.group(3) else 1000
    nbytes = float(size.group(1)) * base ** _UNIT[size.group(2).lower()]
    ram = _machine_memory()  # not held against the defaults (1.6 GB) on a smaller machine
    if nbytes < MIN_MEMORY_BYTES or (nbytes > ram and env in os.environ):
        raise ConfigError(
            f"{env} is {value!r}; expected a size from 32MB up to this machine's memory "
            f"({ram / 1024**3:.1f} GiB), such as 1GB or 800MB"
        )
    # as DuckDB reads it: "1 GB", "1\tgb" and "1g" are "1GB"
    return f"{size.group(1)}{size.group(2).upper()}{'iB' if size.group(3) else 'B'}"


def writer_memory() -> str:
    """DuckDB's memory limit for the writer (``RADQA_WRITER_MEMORY``, default 1GB), read on
    use; ConfigError when it is not a size."""
    return _memory_setting(WRITER_MEMORY_ENV, DEFAULT_WRITER_MEMORY)


def reader_memory() -> str:
    """DuckDB's memory limit for each reader of the snapshot (``RADQA_READER_MEMORY``,
    default 1600MB), read on use; ConfigError when it is not a size."""
    return _memory_setting(READER_MEMORY_ENV, DEFAULT_READER_MEMORY)


def dashboard_memory() -> str:
    """DuckDB's memory limit for the dashboard server's connection (``RADQA_DASHBOARD_MEMORY``,
    default 800MB), read on use; ConfigError when it is not a size."""
    return _memory_setting(DASHBOARD_MEMORY_ENV, DEFAULT_DASHBOARD_MEMORY)


WORKING_NAME = "radqa-work.duckdb"
SNAPSHOT_NAME = "radqa.duckdb"
SCHEMA_VERSION = 4

# Forward migrations: version -> SQL resource applied to reach it (then, where listed, a step
# that fills what the SQL created). Never edit a released one; add the next version instead.
MIGRATIONS: dict[int, str] = {
    1: "schema_v1.sql",
    2: "schema_v2.sql",
    3: "schema_v3.sql",
    4: "schema_v4.sql",
}


def working_path(data_dir: Path) -> Path:
    return Path(data_dir) / WORKING_NAME


def scratch_dir(data_dir: Path) -> Path:
    """The writer's private folder (mode 0700) for the transient files that hold raw ids: DuckDB's
    spill files (a batch's checked rows, before its ids are pseudonymised, spill there beyond
    :func:`writer_memory`) and decoded copies of input files (:mod:`ingest.encodings`). The name
    is DuckDB's own default for the working file's spills."""
    return Path(data_dir) / (WORKING_NAME + ".tmp")


# A scratch file's owner: DuckDB names its spill files duckdb_temp_<pid>_..., ingest its own
# radqa_<pid>_...
_SCRATCH_OWNER = re.compile(r"^(?:duckdb_temp|radqa)_(\d+)_")


def _clear_scratch(folder: Path) -> None:
    """Delete the scratch files of other processes. A writer deletes its own when it closes; a
    killed one (kill -9, out of memory, power loss) cannot, and DuckDB does not delete another
    process's spill files (duckdb/duckdb#24576): left there, they would keep raw ids on disk.
    Called by the writer once it holds the working file's lock, so no other writer is alive;
    files of this process (another connection of it) are kept."""
    for entry in folder.iterdir():
        owner = _SCRATCH_OWNER.match(entry.name)
        if owner and int(owner.group(1)) != os.getpid() and entry.is_file():
            entry.unlink(missing_ok=True)


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
        sql = _sql_resource(MIGRATIONS[version])
        con.execute("begin")
        try:
            con.execute(sql)
            if version == 2:
                refresh_reference(con)
            con.execute(
                "insert into schema_version values (?, ?)",
                [version, datetime.now(UTC).replace(tzinfo=None)],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return SCHEMA_VERSION


def _sql_resource(name: str) -> str:
    return resources.files("radqa").joinpath("sql", name).read_text()


def reference_standard_sql(reads: str = "reads") -> str:
    """The reference-standard rule (``radqa/sql/reference_standard.sql``) over ``reads``.

    ``reads`` is a table or CTE name with the columns of the reads table (callers may pass a
    filtered or re-armed set of reads). The result has one row per study and finding with a
    clinical read: study_uid, finding, ref_label, ref_source, n_readers, any_ai_assisted,
    first_read_at.
    """
    return _sql_resource("reference_standard.sql").replace("from reads\n", f"from {reads}\n")


def refresh_reference(con: duckdb.DuckDBPyConnection, affected: str | None = None) -> None:
    """Re-derive the reference_standard rows of the items in table ``affected`` (study_uid,
    finding), or of every item when None. Runs inside the caller's transaction, if any."""
    if affected is None:
        con.execute("delete from reference_standard")
        con.execute(f"insert into reference_standard {reference_standard_sql()}")
        return
    con.execute(
        f"""
        delete from reference_standard
        where (study_uid, finding) in (select study_uid, finding from {affected})
        """
    )
    scoped = (
        f"(select r.* from reads r semi join {affected} a "
        "on a.study_uid = r.study_uid and a.finding = r.finding) as reads"
    )
    con.execute(f"insert into reference_standard {reference_standard_sql(scoped)}")


def connect_working(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the working database for writing, schema migrated.

    ConfigError, before anything is written, when ``RADQA_WRITER_MEMORY`` or
    ``RADQA_READER_MEMORY`` is not a size: a writer reads the snapshot it publishes too (the
    cases table, the dashboard's landing view).
    """
    memory = writer_memory()
    reader_memory()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    scratch = scratch_dir(data_dir)
    scratch.mkdir(mode=0o700, exist_ok=True)
    scratch.chmod(0o700)  # DuckDB made it 0755 in data dirs from before this
    try:
        con = duckdb.connect(
            str(working_path(data_dir)),
            config={"memory_limit": memory, "temp_directory": str(scratch)},
        )
    except duckdb.IOException as exc:
        if _is_lock_error(exc):
            raise _one_writer(working_path(data_dir), exc) from exc
        raise StoreError(
            f"cannot open {working_path(data_dir)}: {first_line(exc)}; it is "
            "damaged or not a RadQA database (restore it from a backup, or start over with "
            "`radqa demo --replace` for a demo)"
        ) from exc
    con.execute("set enable_progress_bar = false")
    con.execute("set preserve_insertion_order = false")
    _clear_scratch(scratch)
    migrate(con)
    return con


def _one_writer(path: Path, exc: duckdb.Error) -> StoreError:
    return StoreError(f"cannot open {path} for writing: {lock_holder(path, exc)}")


#: What ``radqa demo`` keeps in the data dir while it holds the writer lock (JSON: its pid, start
#: time and studies; :func:`radqa._demo_store.building_demo` writes and removes it).
DEMO_MARKER = ".demo-building"
# DuckDB's lock error names the holder: 'Conflicting lock is held in /usr/bin/python3 (PID 1234)'
_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


def lock_holder(path: Path, exc: duckdb.Error) -> str:
    """Who holds the writer lock on the working database ``path`` (DuckDB's lock error ``exc``)
    and what to do, for a one-line message: ``radqa demo`` building the demo when its marker
    names a process that holds the lock (else, when DuckDB names none, that is alive); a marker
    a killed demo left is not believed."""
    holder = _HOLDER.search(str(exc))
    pid = int(holder.group(2)) if holder else None
    try:
        demo = json.loads((path.parent / DEMO_MARKER).read_text())
        demo_pid, studies = int(demo["pid"]), int(demo["studies"])
        started = datetime.fromisoformat(demo["started"])
    except (OSError, ValueError, KeyError, TypeError):
        demo_pid = None
    if demo_pid is not None and (demo_pid == pid if pid is not None else _alive(demo_pid)):
        return (
            f"it is held by `radqa demo` (PID {demo_pid}), which is building the demo database "
            f"of {studies:,} studies (started {started:%Y-%m-%d %H:%M:%S} UTC; the default "
            "200,000 take about a minute). Wait for it to finish."
        )
    who = f"it is held by {holder.group(1)} (PID {pid})" if holder else first_line(exc)
    return f"{who}. Only one ingest may run at a time; wait for the other one to finish."


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (POSIX; False elsewhere, where os.kill would end it)."""
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _is_lock_error(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


@contextmanager
def writer_lock(data_dir: Path) -> Iterator[None]:
    """Hold the working database's writer lock while the block runs, for a command that deletes
    the store (``radqa demo --replace``): an ingest can neither be running (the "only one writer"
    StoreError) nor start before the files are gone, so none reports a batch committed that the
    deletion then takes away. A working file that cannot be opened for another reason (damaged,
    not a database, of a newer RadQA) holds no lock to respect: the block runs."""
    path = working_path(Path(data_dir))
    if not path.is_file():
        yield
        return
    try:
        con = duckdb.connect(str(path))  # no migration: the file is about to go
    except duckdb.Error as exc:
        if _is_lock_error(exc):
            raise _one_writer(path, exc) from exc
        yield  # damaged: nothing to protect
        return
    try:
        yield  # the files may be unlinked meanwhile: DuckDB writes nothing back on close
    finally:
        con.close()


@contextmanager
def memory_lent(con: duckdb.DuckDBPyConnection, keep: str = "64MB") -> Iterator[None]:
    """Shrink the writer ``con``'s buffer pool to ``keep`` while the block runs, then give it
    back its limit (:func:`writer_memory`, as :func:`connect_working` set it).

    The writer stays open while its process builds the cases table in a second connection (it
    holds the writer's lock). Without this, the blocks the writer still caches and the second
    connection's own limit add up: a reads batch, publish and cases build at 29M predictions
    peaked at 1,596 MB, and at 1,241 MB with the writer's memory lent.
    """
    limit = writer_memory()
    with suppress(duckdb.Error):  # when something is pinned, the limit stays
        con.execute(f"set memory_limit = '{keep}'")  # evicts the unpinned blocks it caches
    try:
        yield
    finally:
        con.execute("set memory_limit = ?", [limit])


@dataclass(frozen=True)
class LoadedBatch:
    """The committed batch that last loaded a given content."""

    batch_id: int
    rows_quarantined: int


#: The part of ``ingest_batches.content_hash`` that stands for the files' bytes (SQL).
FILE_DIGEST = "split_part(content_hash, '+', 1)"


def batch_hash(file_digest: str, context: str) -> str:
    """A batch's content hash: the digest of its files' bytes and, when they were read in a way
    of their own (an encoding, a time zone, a site map...), '+' and 16 hex digits of the digest
    of ``context``. :func:`loaded_batch` and ingest's earlier-reading check split it again."""
    if not context:
        return file_digest
    return f"{file_digest}+{hashlib.sha256(context.encode()).hexdigest()[:16]}"


def file_digest(chash: str) -> str:
    """The files' part of a content hash (:func:`batch_hash`)."""
    return chash.split("+", 1)[0]


def loaded_batch(con: duckdb.DuckDBPyConnection, kind: str, chash: str) -> LoadedBatch | None:
    """The latest committed batch of ``kind`` whose content hash is ``chash``, if any: a file (or
    DICOM file set) with that content is already loaded and loading it again changes nothing.

    A hash may end in '+' and the digest of how the file was read (``ingest.load._batch_hash``):
    a later batch of the same bytes read another way replaced that reading, so the file is
    loaded as ``chash`` says only when the latest batch of its bytes is ``chash``."""
    rows = con.execute(
        "select batch_id, rows_quarantined, content_hash from ingest_batches where kind = ? "
        f"and {FILE_DIGEST} = ? and status = 'committed' order by batch_id desc limit 1",
        [kind, file_digest(chash)],
    ).fetchall()
    if not rows or rows[0][2] != chash:
        return None
    return LoadedBatch(int(rows[0][0]), int(rows[0][1] or 0))


def content_id(con: duckdb.DuckDBPyConnection) -> str:
    """A deterministic id of the data: sha256 over every batch's file hash, outcome and counts.

    Two snapshots built from the same files in the same order have the same id, which is what
    lets a report cite the data it was computed from and stay the same when run twice. A refused
    file changes the id too (the data-health page lists it), though no statistic changes.
    """
    rows = con.execute(
        """
        select kind, status, content_hash, rows_inserted, rows_replaced, rows_quarantined
        from ingest_batches
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
    clear_copies(data_dir, SNAPSHOT_NAME)
    sid = content_id(con)
    published = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    source = con.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    quoted = str(tmp).replace("'", "''")
    try:
        con.execute(f"attach '{quoted}' as radqa_snapshot")
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
        except BaseException:
            # the copy's own error says why (a full disk); a failed detach after it would hide
            # it behind "CHECKPOINT during DETACH failed"
            with suppress(duckdb.Error):
                con.execute("detach radqa_snapshot")
            raise
        con.execute("detach radqa_snapshot")
        os.replace(tmp, final)
    except BaseException:
        clear_copies(data_dir, SNAPSHOT_NAME)  # a full disk is not left full by a half copy
        raise
    return SnapshotInfo(sid, published, SCHEMA_VERSION, final)


def clear_copies(data_dir: Path, name: str) -> None:
    """Delete the half-written copies ``.{name}.<pid>.tmp`` (and their ``.wal``) in ``data_dir``.

    A publish or a cases build writes a whole new database beside the published one and renames
    it over it; killed or failed (a full disk) before the rename, it leaves a copy as large as the
    store. Only the writer publishes and builds, holding the working file's lock, so any such
    copy, of this process or another, is a leftover."""
    for entry in Path(data_dir).glob(f".{name}.*.tmp*"):
        if (
            re.fullmatch(rf"\.{re.escape(name)}\.\d+\.tmp(?:\.wal)?", entry.name)
            and entry.is_file()
        ):
            entry.unlink(missing_ok=True)


def published_id(data_dir: Path) -> str | None:
    """The snapshot id of the published snapshot of ``data_dir``; None when there is none (or it
    cannot be read)."""
    path = snapshot_path(Path(data_dir))
    if not path.is_file():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        info = snapshot_info(con)
    finally:
        con.close()
    return info.snapshot_id if info else None


#: Said when a writer that had nothing to load published because the snapshot differed from the
#: working database: an earlier run stopped before publishing, or (rarer) the working database
#: was restored from a backup older than the snapshot
CAUGHT_UP = (
    "the published snapshot did not hold what the working database holds (an earlier run "
    "stopped before publishing, or the working database was restored from a backup): "
    "published it again"
)


def publish_if_behind(con: duckdb.DuckDBPyConnection, data_dir: Path) -> SnapshotInfo | None:
    """Publish when the snapshot lacks batches the working database ``con`` holds
    (:func:`snapshot_behind`); None when it does not. Run by a writer that found nothing to
    load: running the command again is how an operator or a cron retry recovers from a run that
    stopped between its commit and its publish."""
    return publish_snapshot(con, data_dir) if snapshot_behind(con, data_dir) else None


def snapshot_behind(con: duckdb.DuckDBPyConnection, data_dir: Path) -> bool:
    """Whether the working database ``con`` holds batches the published snapshot does not: a
    writer stopped (killed, Ctrl-C, a full disk) after a batch committed and before publishing.
    False for a working database without any batch."""
    [(batches,)] = con.execute("select count(*) from ingest_batches").fetchall()
    return bool(batches) and published_id(data_dir) != content_id(con)


def open_snapshot(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Open the published snapshot read-only, with its cases table attached when it is built
    (:mod:`radqa.derived`)."""
    path = snapshot_path(Path(data_dir))
    if not path.exists():
        raise StoreError(
            f"no published snapshot at {path}; load data first "
            "(`radqa demo` or `radqa ingest predictions FILE`)"
        )
    con = duckdb.connect(
        str(path),
        read_only=True,
        config={"memory_limit": reader_memory()},
    )
    con.execute("set enable_progress_bar = false")  # no progress bars in reports and logs
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        con.close()
        raise StoreError(
            f"the snapshot {path} was written by a newer RadQA (schema version {version}; this "
            f"one reads version {SCHEMA_VERSION}): upgrade RadQA"
        )
    if version != SCHEMA_VERSION:
        con.close()
        raise StoreError(
            f"the snapshot {path} has schema version {version}; this RadQA reads version "
            f"{SCHEMA_VERSION}. Run `radqa --data-dir {Path(data_dir)} publish` to migrate the "
            "working database and publish it again."
        )
    from radqa.derived import attach_cases  # derived builds on this module

    attach_cases(con, Path(data_dir))
    return con


def outdated_snapshot(data_dir: Path) -> int | None:
    """The schema version of the published snapshot when an older RadQA wrote it and a working
    database is there to migrate and publish again (``radqa publish``); None otherwise."""
    path = snapshot_path(data_dir)
    if not (path.is_file() and working_path(data_dir).is_file()):
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        version = schema_version(con)
    finally:
        con.close()
    return version if version < SCHEMA_VERSION else None


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
