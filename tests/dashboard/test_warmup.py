"""The post-publish warm-up computes everything the landing page needs, with the same keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import streamlit as st

from dashboard.warmup import warm
from metrics import _cache

from .conftest import open_tab


def _results(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "cache").rglob("*.pkl")}


def _fresh_process() -> None:
    """Forget what this process holds: only results on disk remain."""
    st.cache_data.clear()
    st.cache_resource.clear()
    _cache.RESULTS.clear()


def test_the_landing_page_computes_nothing_the_warm_up_did_not(demo_copy, app):
    _fresh_process()
    page = app(demo_copy)  # the Overview, without the warm-up: it computes and caches
    assert not page.exception
    needed = _results(demo_copy)
    assert len(needed) >= 3  # filter options, the summary and the configured claim at least

    shutil.rmtree(demo_copy / "cache")
    _fresh_process()
    calls = warm(demo_copy)
    warmed = _results(demo_copy)
    assert calls == 4  # options, summary, the trend tab's first model, the one claim
    assert needed <= warmed, f"the landing page needs results the warm-up missed: {needed - warmed}"

    _fresh_process()
    page = app(demo_copy)
    assert not page.exception
    assert _results(demo_copy) == warmed  # the page after the warm-up computed nothing new
    open_tab(page, "ov_tab", "Trend")  # nor does its trend tab
    assert page.get("plotly_chart")
    assert _results(demo_copy) == warmed
    _fresh_process()


def test_warm_without_a_snapshot_does_nothing(tmp_path):
    assert warm(tmp_path) == 0
    assert not (tmp_path / "cache").exists()
