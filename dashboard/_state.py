"""The dashboard's connection to the published snapshot and its cached metrics calls.

The connection is a ``st.cache_resource`` keyed on the snapshot file's path and modification time,
so a newly published snapshot (an atomic rename) opens a new connection on the next rerun. Every
result is a ``st.cache_data`` entry keyed on the snapshot id: a snapshot never changes, so a
result stays valid for as long as the snapshot does. Each call runs on its own cursor, because
Streamlit serves sessions from several threads and one DuckDB connection is not thread-safe.

What every rerun needs (the snapshot's id, the filter choices) is a ``st.cache_resource`` of small
immutable objects: a rerun gets the object itself, with no unpickling and no query.

No SQL and no statistics here: every number comes from a :mod:`metrics` function.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

import metrics
from dashboard._defaults import FILTER_DIMS, OVERVIEW_BY
from metrics import Filters
from radqa import derived, store
from radqa.errors import StoreError
from radqa.settings import DATA_DIR_ENV, Settings, load_settings


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
    """The current snapshot; raises StoreError when none is published.

    One ``stat`` of the snapshot and cases files per rerun; the snapshot's id is read once per
    published file version (:func:`radqa.derived.version`).
    """
    directory = data_dir()
    connection(directory)  # raises StoreError without a snapshot; reopens a replaced one
    return _snapshot(str(directory), derived.version(directory))


@st.cache_resource(show_spinner=False, max_entries=8)
def _snapshot(directory: str, version: tuple[int, int]) -> Snapshot:
    # DuckDB's memory limit (store.dashboard_memory: RADQA_DASHBOARD_MEMORY, default 800MB),
    # per database, once per reopen; ConfigError when it is not a size
    memory = store.dashboard_memory()
    con = connection(Path(directory))
    con.execute("set memory_limit = ?", [memory])
    cur = con.cursor()
    try:
        info = store.snapshot_info(cur)
    finally:
        cur.close()
    path = store.snapshot_path(Path(directory))
    key = info.snapshot_id if info else f"{path.resolve()}:{version[0]}"
    return Snapshot(
        key=key,
        snapshot_id=info.snapshot_id if info else None,
        published_at=info.published_at if info else None,
        data_dir=Path(directory),
    )


def settings() -> Settings:
    return load_settings(data_dir())


#: metrics functions whose results run to megabytes on a large store (monitor: every group's
#: histograms and control-chart series, about 5 MB at 10M predictions; discordant_cases: up to
#: 5,000 case rows). They get a cache of their own with fewer entries, so that browsing months
#: cannot fill the server's memory with them.
LARGE_RESULTS = frozenset({"monitor", "discordant_cases"})


def call(fn_name: str, snap: Snapshot, /, **kwargs: Any) -> Any:
    """``metrics.<fn_name>(cursor, **kwargs)``, cached on the snapshot id.

    ``fn_name`` must be a public name of ``metrics`` (AttributeError otherwise).
    """
    metric_fn(fn_name)
    cached = _cached_large_call if fn_name in LARGE_RESULTS else _cached_call
    return cached(fn_name, snap.key, str(snap.data_dir), tuple(sorted(kwargs.items())))


@st.cache_data(show_spinner="Computing from the snapshot ...", max_entries=256)
def _cached_call(fn_name: str, key: str, directory: str, items: tuple[tuple[str, Any], ...]) -> Any:
    return _run(fn_name, directory, items)


@st.cache_data(show_spinner="Computing from the snapshot ...", max_entries=16)
def _cached_large_call(
    fn_name: str, key: str, directory: str, items: tuple[tuple[str, Any], ...]
) -> Any:
    return _run(fn_name, directory, items)


def _run(fn_name: str, directory: str, items: tuple[tuple[str, Any], ...]) -> Any:
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


@dataclass(frozen=True)
class FilterOptions:
    """What exists in a snapshot, for the sidebar, the pickers and the colours: small and
    immutable, so one object serves every rerun of every session."""

    #: filter column -> its distinct values, sorted (as text)
    values: Mapping[str, tuple[str, ...]]
    #: the study months present, sorted ('YYYY-MM')
    months: tuple[str, ...]
    #: distinct (model_name, finding, model_version), sorted; model_version may be ''
    models: tuple[tuple[str, str, str], ...]

    @property
    def empty(self) -> bool:
        return not self.months and not self.models

    def of(self, column: str) -> tuple[str, ...]:
        """The values of a filter column; () for a column the options do not cover."""
        return self.values.get(column, ())


@st.cache_resource(show_spinner=False, max_entries=4)
def _filter_options(key: str, directory: str) -> FilterOptions:
    con = connection(Path(directory)).cursor()
    try:
        table = metric_fn("label_completeness")(con, by=FILTER_DIMS, period="month")
    finally:
        con.close()
    values = {dim: tuple(sorted(table[dim].dropna().astype(str).unique())) for dim in FILTER_DIMS}
    models = (
        table[["model_name", "finding", "model_version"]]
        .dropna(subset=["model_name", "finding"])
        .fillna({"model_version": ""})
        .astype(str)
        .drop_duplicates()
        .sort_values(["model_name", "finding", "model_version"])
    )
    return FilterOptions(
        values=MappingProxyType(values),
        months=tuple(sorted(table["period"].dropna().astype(str).unique())),
        models=tuple(models.itertuples(index=False, name=None)),
    )


def filter_options(snap: Snapshot) -> FilterOptions:
    """Every value of the filter columns and every study month present in the snapshot.

    Built from :func:`metrics.label_completeness` without filters (one grouped query per
    snapshot), so the sidebar lists what exists and the colours stay fixed across filters.
    """
    return _filter_options(snap.key, str(snap.data_dir))


def has_data(snap: Snapshot) -> bool:
    return not filter_options(snap).empty


def summarize(
    snap: Snapshot,
    filters: Filters,
    *,
    by: tuple[str, ...] = OVERVIEW_BY,
    period: str | None = None,
) -> pd.DataFrame:
    return call("summarize", snap, by=by, filters=filters, period=period)
