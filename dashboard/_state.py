"""The dashboard's connection to the published snapshot and its cached metrics calls.

The connection is a ``st.cache_resource`` keyed on the snapshot file's path and modification time,
so a newly published snapshot (an atomic rename) opens a new connection on the next rerun. Every
result is a ``st.cache_data`` entry keyed on the snapshot id: a snapshot never changes, so a
result stays valid for as long as the snapshot does. Each call runs on its own cursor, because
Streamlit serves sessions from several threads and one DuckDB connection is not thread-safe.

No SQL and no statistics here: every number comes from a :mod:`metrics` function.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

import metrics
from metrics import Filters
from radqa import derived, store
from radqa.errors import StoreError
from radqa.settings import DATA_DIR_ENV, Settings, load_settings

#: Group columns the sidebar filters and the option lists cover.
FILTER_DIMS = (
    "site",
    "scanner_manufacturer",
    "scanner_model",
    "modality",
    "finding",
    "model_name",
    "model_version",
)


def data_dir() -> Path:
    """``RADQA_DATA_DIR`` (set by ``radqa serve``), else ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


class _Holder:
    """The open connection to one snapshot path and the file version it was opened on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mtime_ns: tuple[int, int] | None = None
        self.con: duckdb.DuckDBPyConnection | None = None


@st.cache_resource(show_spinner=False)
def _holder(path: str) -> _Holder:
    return _Holder()


@dataclass(frozen=True)
class Snapshot:
    """What the pages need to know about the data they show."""

    key: str  # the cache key: the snapshot id, or path+mtime for a database without one
    snapshot_id: str | None
    published_at: dt.datetime | None
    data_dir: Path


def connection(directory: Path) -> duckdb.DuckDBPyConnection:
    """The read-only connection to the published snapshot, reopened after a new publication.

    DuckDB hands out the already-open database for a path it has open, so the connection to a
    replaced file must be closed before the new file can be seen.
    """
    path = store.snapshot_path(directory)
    if not path.exists():
        raise StoreError(
            f"no published snapshot at {path}; load data first "
            "(`radqa demo` or `radqa ingest predictions FILE`)"
        )
    holder = _holder(str(path.resolve()))
    mtime_ns = derived.version(directory)  # the snapshot or its cases file replaced: reopen
    with holder.lock:
        if holder.con is None or holder.mtime_ns != mtime_ns:
            if holder.con is not None:
                holder.con.close()
            holder.con = store.open_snapshot(Path(directory))
            holder.mtime_ns = mtime_ns
        return holder.con


def snapshot() -> Snapshot:
    """The current snapshot; raises StoreError when none is published."""
    directory = data_dir()
    con = connection(directory).cursor()
    try:
        info = store.snapshot_info(con)
    finally:
        con.close()
    path = store.snapshot_path(directory)
    key = info.snapshot_id if info else f"{path.resolve()}:{path.stat().st_mtime_ns}"
    return Snapshot(
        key=key,
        snapshot_id=info.snapshot_id if info else None,
        published_at=info.published_at if info else None,
        data_dir=directory,
    )


def settings() -> Settings:
    return load_settings(data_dir())


def call(fn_name: str, snap: Snapshot, /, **kwargs: Any) -> Any:
    """``metrics.<fn_name>(cursor, **kwargs)``, cached on the snapshot id.

    ``fn_name`` must be a public name of ``metrics`` (AttributeError otherwise).
    """
    metric_fn(fn_name)
    return _cached_call(fn_name, snap.key, str(snap.data_dir), tuple(sorted(kwargs.items())))


@st.cache_data(show_spinner="Computing from the snapshot ...", max_entries=256)
def _cached_call(fn_name: str, key: str, directory: str, items: tuple[tuple[str, Any], ...]) -> Any:
    con = connection(Path(directory)).cursor()
    try:
        return metric_fn(fn_name)(con, **dict(items))
    finally:
        con.close()


def metric_fn(fn_name: str) -> Any:
    """The public ``metrics`` function ``fn_name``; AttributeError when there is none."""
    fn = getattr(metrics, fn_name, None)
    if fn is None:
        raise AttributeError(f"metrics.{fn_name} does not exist in this RadQA version")
    return fn


@st.cache_data(show_spinner=False)
def _options(key: str, directory: str) -> pd.DataFrame:
    con = connection(Path(directory)).cursor()
    try:
        return metric_fn("label_completeness")(con, by=FILTER_DIMS, period="month")
    finally:
        con.close()


def options(snap: Snapshot) -> pd.DataFrame:
    """Every combination of the filter columns and study month present, with counts.

    Built from :func:`metrics.label_completeness` without filters (one grouped query per
    snapshot), so the sidebar lists what exists and the colours stay fixed across filters.
    """
    return _options(snap.key, str(snap.data_dir))


def has_data(snap: Snapshot) -> bool:
    return not options(snap).empty


def summarize(
    snap: Snapshot,
    filters: Filters,
    *,
    by: tuple[str, ...] = ("model_name", "finding"),
    period: str | None = None,
) -> pd.DataFrame:
    return call("summarize", snap, by=by, filters=filters, period=period)
