"""Fixtures for the dashboard tests: a demo snapshot, an empty one, and an AppTest factory."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from radqa import store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
CLAIMS = '[claims."ChestXR-Triage"]\naccuracy = 0.974\n'
TIMEOUT = 120


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published demo snapshot of 5,000 studies (built once per session).

    ``RADQA_TEST_DEMO_DIR`` may name a data dir that already holds one (built with
    ``radqa --data-dir DIR demo --studies 5000``); its snapshot is copied instead of rebuilt.
    """
    path = tmp_path_factory.mktemp("demo")
    prebuilt = os.environ.get("RADQA_TEST_DEMO_DIR")
    if prebuilt:
        shutil.copy(store.snapshot_path(Path(prebuilt)), store.snapshot_path(path))
    else:
        from radqa.demo import run_demo

        run_demo(path, studies=5000)
    (path / "radqa.toml").write_text(CLAIMS)
    return path


@pytest.fixture(scope="module")
def con(demo_dir: Path):  # noqa: ANN201
    """A read-only connection to the demo snapshot."""
    c = store.open_snapshot(demo_dir)
    yield c
    c.close()


def charts(at: AppTest) -> list[dict]:
    """The plotly figure specs the run ``at`` drew."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


@pytest.fixture
def demo_copy(demo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the demo snapshot, for tests that write reviews or the audit log."""
    shutil.copy(store.snapshot_path(demo_dir), store.snapshot_path(tmp_path))
    shutil.copy(demo_dir / "radqa.toml", tmp_path / "radqa.toml")
    return tmp_path


@pytest.fixture(scope="session")
def empty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published snapshot with the schema and no rows."""
    path = tmp_path_factory.mktemp("empty")
    con = store.connect_working(path)
    store.publish_snapshot(con, path)
    con.close()
    return path


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``app(data_dir, page=None, user=None, login=False, query=None, radqa=None)``: a run
    AppTest of the dashboard; with ``login``, ``radqa`` is added to the ``[radqa]`` secrets."""

    def make(
        data_dir: Path,
        page: str | None = None,
        *,
        user: dict[str, object] | None = None,
        login: bool = False,
        query: dict[str, object] | None = None,
        radqa: dict[str, object] | None = None,
    ) -> AppTest:
        monkeypatch.setenv("RADQA_DATA_DIR", str(data_dir))
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        if login:
            at.secrets["auth"] = {
                "redirect_uri": "http://localhost:8501/oauth2callback",
                "cookie_secret": "test-secret",
                "client_id": "radqa",
                "client_secret": "secret",
                "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration",
            }
            at.secrets["radqa"] = {"roles_claim": "groups", **(radqa or {})}
        if user is not None:
            at.user = user
        for key, value in (query or {}).items():
            at.query_params[key] = value
        at.run()
        if page is not None:
            at.switch_page(page)
            at.run()
        return at

    return make


def kpi_tiles(at: AppTest) -> list[tuple[str, str]]:
    """The Overview's KPI tiles (one ``st.html`` block) as (label, value) pairs, in order."""
    blocks = [h.value for h in at.html if 'class="radqa-kpis"' in h.value]
    return [
        (html.unescape(label), html.unescape(value))
        for block in blocks
        for label, value in re.findall(r'data-label="([^"]*)" data-value="([^"]*)"', block)
    ]


def tile_groups(at: AppTest) -> list[str]:
    """The headings of the Overview's tile groups (model · finding), in order."""
    blocks = [h.value for h in at.html if 'class="radqa-kpis"' in h.value]
    return [html.unescape(t) for b in blocks for t in re.findall(r'data-group="([^"]*)"', b)]


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """Select the lazy tab ``label`` of the ``st.tabs`` with ``key`` and rerun."""
    at.session_state[key] = label
    at.run()
    assert not at.exception
    return at
