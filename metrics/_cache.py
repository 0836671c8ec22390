"""Query results cached per published snapshot: in process (LRU) and on disk beside the snapshot.

A published snapshot never changes (ingest writes a new file and renames it into place), so a
result computed on snapshot ``X`` is valid for as long as ``X`` is what the connection sees. The
key is ``(snapshot_id, function name, arguments)``. A database that is not a published snapshot
(the working file, an in-memory store) has no ``snapshot_info`` table and is never cached.

Second level: each result is also pickled to ``<data dir>/cache/<snapshot_id>/<key hash>.pkl``
(written to a temporary name and renamed), so a new process (a restarted dashboard, the monthly
report) starts from what any earlier process computed on the same snapshot. The key hash covers
the source of the metrics package too, so results of another RadQA version are never read.
Directories of older snapshots, once unused for ten minutes, are removed when a new one is
created. The files are written and
read only by RadQA processes on the data dir, which is as trusted as the database beside them.
``RADQA_RESULT_CACHE=0`` turns the disk level off; inside :func:`disk_read_only` (the reports,
which are readers of the data dir) results are read from disk but never written there.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb
import pandas as pd

T = TypeVar("T")

MAX_ENTRIES = 128


class LRUCache:
    """A thread-safe least-recently-used mapping with a fixed number of entries."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> tuple[bool, Any]:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return True, self._data[key]
            self.misses += 1
            return False, None

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


RESULTS = LRUCache()


def snapshot_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The id of the published snapshot behind ``con``, or None when it is not a snapshot."""
    try:
        rows = con.execute("select snapshot_id from snapshot_info").fetchall()
    except duckdb.CatalogException:
        return None
    return None if not rows or rows[0][0] is None else str(rows[0][0])


def _copy(value: T) -> T:
    """Give each caller its own DataFrame, so one caller's edits cannot change the cache."""
    if isinstance(value, pd.DataFrame):
        return cast(T, value.copy())
    if isinstance(value, tuple):
        return cast(T, tuple(_copy(v) for v in value))
    return value


def _code_version() -> str:
    """A hash of the metrics package's Python and SQL source."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("*.py"), *root.glob("sql/*.sql")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


CODE_VERSION = _code_version()
#: A snapshot's result directory unused this long is removed when another snapshot's is created.
STALE_AFTER_S = 600


def disk_enabled() -> bool:
    return os.environ.get("RADQA_RESULT_CACHE", "1") != "0"


_DISK_WRITES: ContextVar[bool] = ContextVar("radqa_result_cache_writes", default=True)


@contextmanager
def disk_read_only() -> Iterator[None]:
    """Within this block (in this thread or task), cached results are read from the data dir's
    ``cache/`` but nothing is written there: a report never creates or writes the data dir."""
    token = _DISK_WRITES.set(False)
    try:
        yield
    finally:
        _DISK_WRITES.reset(token)


def _cache_dir(con: duckdb.DuckDBPyConnection, sid: str) -> Path | None:
    """``<snapshot's directory>/cache/<sid>``, or None for a database without a file."""
    rows = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    if not rows or not rows[0][0]:
        return None
    return Path(rows[0][0]).resolve().parent / "cache" / sid


def _disk_key(key: tuple[Any, ...]) -> str | None:
    """A stable file name for ``key``; None when an argument has no stable text form."""
    text = repr((CODE_VERSION, key))
    if " at 0x" in text:  # an object without a value-based repr
        return None
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _disk_get(folder: Path, name: str) -> tuple[bool, Any]:
    try:
        with open(folder / f"{name}.pkl", "rb") as fh:
            return True, pickle.load(fh)  # noqa: S301 (written by RadQA itself, see above)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return False, None


def _disk_put(folder: Path, name: str, value: Any) -> None:
    if not _DISK_WRITES.get():
        return
    try:
        if not folder.exists():
            folder.mkdir(parents=True, exist_ok=True)
            stale = time.time() - STALE_AFTER_S
            for other in folder.parent.iterdir():  # results of older snapshots
                if other != folder and other.is_dir() and other.stat().st_mtime < stale:
                    shutil.rmtree(other, ignore_errors=True)
        tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{name}.pkl")
    except OSError:
        pass  # a read-only data dir: the in-process level still works


def cached(fn: Callable[..., T]) -> Callable[..., T]:
    """Cache ``fn(con, **kwargs)`` per snapshot; arguments must be hashable."""

    @functools.wraps(fn)
    def wrapper(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> T:
        sid = snapshot_id(con)
        if sid is None:
            return fn(con, *args, **kwargs)
        key = (sid, fn.__module__, fn.__qualname__, args, tuple(sorted(kwargs.items())))
        try:
            hit, value = RESULTS.get(key)
        except TypeError:  # an unhashable argument: compute without caching
            return fn(con, *args, **kwargs)
        if hit:
            return cast(T, _copy(value))
        folder = _cache_dir(con, sid) if disk_enabled() else None
        name = _disk_key(key) if folder is not None else None
        if folder is not None and name is not None:
            hit, value = _disk_get(folder, name)
            if hit:
                RESULTS.put(key, value)
                return cast(T, _copy(value))
        value = fn(con, *args, **kwargs)
        RESULTS.put(key, value)
        if folder is not None and name is not None:
            _disk_put(folder, name, value)
        return _copy(value)

    return wrapper
