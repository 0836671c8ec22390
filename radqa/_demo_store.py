"""What a data dir's store already holds, before ``radqa demo`` loads into it, and starting over.

The demo loads only into a store without data: mixed into a hospital's data or into another demo
(other ``--studies`` or ``--seed``) it would replace study UIDs and leave ``effects.json``
describing only half of what is loaded. The same demo again is recognised as already built.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from radqa.derived import CASES_NAME
from radqa.errors import StoreError
from radqa.store import (
    DEMO_MARKER,
    SNAPSHOT_NAME,
    WORKING_NAME,
    lock_holder,
    scratch_dir,
    snapshot_path,
    working_path,
)

#: The files the store consists of (each with DuckDB's ``.wal`` beside it), and what is derived
#: from the snapshot. pseudo.key, radqa.toml, alert_rules.toml and the dashboard's own files
#: (reviews, audit log) are not among them and are never removed.
STORE_FILES = (WORKING_NAME, SNAPSHOT_NAME, CASES_NAME)
DERIVED_DIRS = ("cache",)  # and the writer's scratch folder (store.scratch_dir)


@dataclass(frozen=True)
class StoreContents:
    """The files whose batches are committed in a data dir's store (in load order), and the
    demo recorded in its ``demo/effects.json`` (studies, seed), if any."""

    files: tuple[str, ...]
    demo_studies: int | None = None
    demo_seed: int | None = None

    def describe(self) -> str:
        """'49 loaded files (a demo of 8,000 studies with seed 7)' and the like."""
        n = len(self.files)
        what = f"{n} loaded file{'s' if n != 1 else ''}"
        if self.demo_studies is not None:
            return f"{what} (a demo of {self.demo_studies:,} studies with seed {self.demo_seed})"
        shown = ", ".join(self.files[:3])
        more = f" and {n - 3} more" if n > 3 else ""
        return f"{what} ({shown}{more})"


def store_contents(
    data_dir: Path, writer: duckdb.DuckDBPyConnection | None = None
) -> StoreContents:
    """The committed batches of the working database (else of the published snapshot).

    ``writer``: the working database, open for writing in this process (which then holds its
    lock; a read-only connection to it cannot be opened beside it): its batches are read there.

    Raises
    ------
    StoreError
        The database is being written by another process (an ingest) and cannot be read.
    """
    data_dir = Path(data_dir)
    studies, seed = _recorded_demo(data_dir)
    if writer is not None:
        return StoreContents(tuple(_committed_files(writer)), studies, seed)
    files: list[str] = []
    for path in (working_path(data_dir), snapshot_path(data_dir)):
        if not path.exists():
            continue
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():  # another writer: who (a demo building?), what to do
                raise StoreError(f"cannot read {path}: {lock_holder(path, exc)}") from exc
            raise StoreError(
                f"{path} is in use by another process ({exc}); run `radqa demo` again when the "
                "ingest or demo writing it has finished"
            ) from exc
        try:
            files = _committed_files(con)
        finally:
            con.close()
        break
    return StoreContents(tuple(files), studies, seed)


def _committed_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    try:
        rows = con.execute(
            "select file_name from ingest_batches where status = 'committed' order by batch_id"
        ).fetchall()
    except duckdb.CatalogException:  # no schema yet
        return []
    return [str(r[0]) for r in rows]


def _recorded_demo(data_dir: Path) -> tuple[int | None, int | None]:
    try:
        doc = json.loads((data_dir / "demo" / "effects.json").read_text())
        return int(doc["studies"]), int(doc["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def demo_file_names(data_dir: Path) -> list[str]:
    """The names of the demo input files in ``data_dir/demo`` (what a complete demo loaded)."""
    folder = Path(data_dir) / "demo"
    paths = [*folder.glob("predictions-*.parquet"), *folder.glob("reads-*.csv")]
    return sorted(p.name for p in paths)


def is_built_demo(data_dir: Path, contents: StoreContents, *, studies: int, seed: int) -> bool:
    """Whether the store holds exactly the demo of ``studies`` and ``seed``, completely loaded."""
    return (
        (contents.demo_studies, contents.demo_seed) == (studies, seed)
        and len(contents.files) == len(set(contents.files))
        and sorted(contents.files) == demo_file_names(data_dir)
    )


def refusal(data_dir: Path, contents: StoreContents, *, studies: int, seed: int) -> str:
    """The message that refuses a demo into a store with data: what is there, how to start over."""
    asked = f"{studies:,} studies with seed {seed}"
    recorded = contents.demo_studies is not None
    if recorded and (contents.demo_studies, contents.demo_seed) == (studies, seed):
        demo = set(demo_file_names(data_dir))
        loaded = demo & set(contents.files)
        others = [f for f in dict.fromkeys(contents.files) if f not in demo]
        if others:
            shown = ", ".join(others[:3]) + (
                f" and {len(others) - 3} more" if len(others) > 3 else ""
            )
            what = (
                f"the demo of {asked} ({len(loaded)} of its {len(demo)} files) and "
                f"{len(others)} other file{'s' if len(others) != 1 else ''} ({shown})"
            )
        else:
            what = f"an incomplete demo of {asked}: {len(loaded)} of {len(demo)} files loaded"
    else:
        what = contents.describe()
    return (
        f"{data_dir} already holds data: {what}; the demo ({asked}) is only loaded into a data "
        f"dir without data, so that it is not mixed with other data. Use another --data-dir, or "
        f"start over here with `radqa demo --replace`, which deletes {', '.join(STORE_FILES)} "
        f"and cache/ in {data_dir} and keeps pseudo.key and radqa.toml"
    )


def remove_store(data_dir: Path) -> list[Path]:
    """Delete the store's databases, snapshot, cases file, result cache and scratch folder.

    pseudo.key, radqa.toml, alert_rules.toml, the demo input files and the dashboard's own files
    are kept. Returns what was deleted.
    """
    data_dir = Path(data_dir)
    removed: list[Path] = []
    for name in STORE_FILES:
        for path in (data_dir / name, data_dir / f"{name}.wal"):
            if path.is_file():
                path.unlink()
                removed.append(path)
    for path in (*(data_dir / name for name in DERIVED_DIRS), scratch_dir(data_dir)):
        if path.is_dir():
            shutil.rmtree(path)
            removed.append(path)
    return removed


@contextmanager
def building_demo(data_dir: Path, *, studies: int) -> Iterator[None]:
    """Keep the marker :data:`radqa.store.DEMO_MARKER` in ``data_dir`` while the block runs, for
    a demo that holds the writer lock: another writer refused meanwhile is told that a demo is
    building the store (:func:`radqa.store.lock_holder`), not only that some process holds it.

    Written whole (a temporary file renamed over it) and removed however the block ends; a
    killed demo leaves it behind, and a marker whose process does not hold the lock is not
    believed. It is not part of the store: not in a snapshot, nor removed by --replace. Only
    words depend on it: a marker that cannot be written (a full disk) does not stop the demo.
    """
    marker = Path(data_dir) / DEMO_MARKER
    tmp = marker.with_name(f"{DEMO_MARKER}.{os.getpid()}.tmp")
    started = datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat()
    try:
        tmp.write_text(json.dumps({"pid": os.getpid(), "started": started, "studies": studies}))
        os.replace(tmp, marker)
    except OSError:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)
