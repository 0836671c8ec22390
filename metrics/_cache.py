"""A small in-process LRU cache of query results, keyed on the published snapshot.

A published snapshot never changes (ingest writes a new file and renames it into place), so a
result computed on snapshot ``X`` is valid for as long as ``X`` is what the connection sees. The
key is ``(snapshot_id, function name, arguments)``. A database that is not a published snapshot
(the working file, an in-memory store) has no ``snapshot_info`` table and is never cached.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
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
        value = fn(con, *args, **kwargs)
        RESULTS.put(key, value)
        return _copy(value)

    return wrapper
