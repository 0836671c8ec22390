"""What a rerun from the cache costs: shared immutable objects, no re-reading, a cheap gc."""

from __future__ import annotations

import gc
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import metrics
from dashboard import _alerts, _charts, _heap, _state
from radqa import store
from radqa.errors import ConfigError

from .conftest import charts, open_tab


@pytest.fixture
def snap(demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> _state.Snapshot:
    monkeypatch.setenv("RADQA_DATA_DIR", str(demo_dir))
    return _state.snapshot()


def test_filter_options_list_what_the_snapshot_has(snap: _state.Snapshot, demo_dir: Path) -> None:
    con = store.open_snapshot(demo_dir)
    table = metrics.label_completeness(con, by=_state.FILTER_DIMS, period="month")
    con.close()
    opts = _state.filter_options(snap)
    for dim in _state.FILTER_DIMS:
        assert opts.of(dim) == tuple(sorted(table[dim].dropna().astype(str).unique()))
    assert opts.of("patient_sex") == ()  # not a filter column
    assert opts.months == tuple(sorted(table["period"].unique()))
    assert len(opts.months) == table["period"].nunique() > 6
    triples = table[["model_name", "finding", "model_version"]].drop_duplicates()
    assert len(opts.models) == len(triples)
    assert {m for m, _, _ in opts.models} == set(table["model_name"])
    assert not opts.empty and _state.has_data(snap)


def test_a_rerun_gets_the_same_objects(snap: _state.Snapshot) -> None:
    # cache_resource: no unpickled copy per rerun, and nothing a page could change in place
    assert _state.snapshot() is snap
    assert _state.filter_options(snap) is _state.filter_options(snap)
    with pytest.raises(TypeError):
        _state.filter_options(snap).values["site"] = ()  # type: ignore[index]


def test_large_results_have_their_own_smaller_cache(snap: _state.Snapshot) -> None:
    assert {"monitor", "discordant_cases"} == _state.LARGE_RESULTS
    assert set(metrics.__all__) >= _state.LARGE_RESULTS
    cases = _state.call("discordant_cases", snap, filters=metrics.Filters(), kind="fn", limit=7)
    assert len(cases) == 7 and set(cases["kind"]) == {"fn"}


def test_the_dashboard_connection_has_its_memory_limit(snap: _state.Snapshot) -> None:
    con = _state.connection(snap.data_dir)
    limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert store.dashboard_memory() == "800MB"
    assert limit == "762.9 MiB"  # 800 MB as DuckDB prints it (MiB)


def test_a_dashboard_memory_that_is_not_a_size_is_said_in_one_line(
    demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RADQA_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("RADQA_DASHBOARD_MEMORY", "abc")
    _state._snapshot.clear()  # read on each (re)open of the snapshot, not once at import
    try:
        with pytest.raises(ConfigError, match=r"^RADQA_DASHBOARD_MEMORY is 'abc'; expected a size"):
            _state.snapshot()
        monkeypatch.setenv("RADQA_DASHBOARD_MEMORY", "512MB")
        con = _state.connection(_state.snapshot().data_dir)
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "488.2 MiB"
    finally:
        monkeypatch.delenv("RADQA_DASHBOARD_MEMORY")
        _state._snapshot.clear()


def test_a_new_publication_is_a_new_snapshot(demo_copy: Path, empty_dir: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RADQA_DATA_DIR", str(demo_copy))
    before = _state.snapshot()
    tmp = demo_copy / "incoming.duckdb"
    tmp.write_bytes(store.snapshot_path(empty_dir).read_bytes())
    os.replace(tmp, store.snapshot_path(demo_copy))
    after = _state.snapshot()
    con = store.open_snapshot(empty_dir)
    assert after.snapshot_id == store.snapshot_info(con).snapshot_id != before.snapshot_id
    con.close()
    assert _state.filter_options(after).empty and not _state.has_data(after)


def _report(path: Path, alerts: list[dict], readings: list[str] | None = None) -> None:
    path.parent.mkdir(exist_ok=True)
    doc = {"snapshot_id": "s1", "alerts": alerts}
    if readings is not None:
        doc["readings"] = readings
    path.write_text(json.dumps(doc))


def test_the_report_banner_reads_a_report_once_per_file_version(tmp_path: Path) -> None:
    alert = {
        "rule": "auc_drop",
        "metric": "auc",
        "group": {"site": "North", "finding": "nodule"},
        "value": 0.81,
        "threshold": 0.85,
        "first_period": "2026-05",
        "periods": 2,
        "evidence": {"p": 0.01},
    }
    path = tmp_path / "reports" / "drift-report-2026-06.json"
    said = "AUC at North for nodule fell from 0.90 to 0.81 (difference -0.09, 95% CI ...)"
    _report(path, [alert], [said])
    found = _alerts.latest_report_alerts(tmp_path)
    assert (found.month, found.snapshot_id) == ("2026-06", "s1")
    # the report's sentence for the alert, not its raw value and threshold
    assert found.alerts.to_dict("records") == [
        {"rule": "auc_drop", "reading": said, "first_period": "2026-05", "periods": 2}
    ]
    _report(path, [alert])  # a report from before readings were kept: where, at least
    assert _alerts.latest_report_alerts(tmp_path).alerts["reading"].tolist() == [
        "site: North, finding: nodule"
    ]
    _report(path, [alert], [said])
    assert _alerts.latest_report_alerts(tmp_path).alerts["reading"].tolist() == [said]
    # same path, time and size: the cached result, the file is not read again
    stat = path.stat()
    path.write_text("x" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _alerts.latest_report_alerts(tmp_path).alerts["rule"].tolist() == ["auc_drop"]
    # rewritten (a new version): read again; an unreadable newer report falls back
    _report(path, [])
    assert _alerts.latest_report_alerts(tmp_path).alerts.empty
    (tmp_path / "reports" / "drift-report-2026-07.json").write_text("{not json")
    assert _alerts.latest_report_alerts(tmp_path).month == "2026-06"


def test_freeze_imports_only_when_modules_were_imported(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    _heap.freeze_imports()
    assert _heap.freeze_imports() is False  # nothing imported since
    (tmp_path / "radqa_fresh_module.py").write_text(
        "VALUES = [list(range(3)) for _ in range(50)]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("radqa_fresh_module")
    value = module.VALUES[0]
    try:
        assert any(o is value for o in gc.get_objects())  # the collector walks it ...
        assert _heap.freeze_imports() is True
        assert not any(o is value for o in gc.get_objects())  # ... and now no longer
        assert gc.get_freeze_count() > 0
        assert _heap.freeze_imports() is False
    finally:
        sys.modules.pop("radqa_fresh_module", None)
        gc.unfreeze()


def test_figures_take_the_template_without_setting_it() -> None:
    fig = _charts.layout(go.Figure(), "t")
    assert _charts.TEMPLATE == "plotly_white"
    assert fig.layout.template.layout.plot_bgcolor == "white"
    assert "template" in fig.to_plotly_json()["layout"]


def test_drift_draws_only_the_open_control_chart(app, demo_dir) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir, "views/drift.py"), "dr_tab", "Control charts")
    titles = [c["layout"]["title"]["text"] for c in charts(at)]
    assert [t.split(" ")[0] for t in titles] == ["p-chart"]
    at.session_state["dr_spc_tab"] = "CUSUM"
    at.run()
    assert not at.exception
    titles = [c["layout"]["title"]["text"] for c in charts(at)]
    assert [t.split(" ")[0] for t in titles] == ["Tabular"]


def test_heatmap_cells_from_a_constructed_grid() -> None:
    nan = float("nan")
    grid = pd.DataFrame(
        {
            "site": ["A", "A", "B"],
            "scanner_model": ["X", "Y", "X"],
            "sensitivity": [0.9, nan, 0.5],
            "sensitivity_low": [0.8, nan, 0.4],
            "sensitivity_high": [0.95, nan, 0.6],
            "n_labelled": [100, 10, 40],
            "pending": [2, 0, 1],
            "insufficient_reason": [None, "fewer than 30 labelled cases", None],
        }
    )
    fig = _charts.heatmap(grid, "sensitivity", rows="site", cols="scanner_model")
    grey, main = fig.data
    assert list(main.y) == ["A", "B"] and list(main.x) == ["X", "Y"]
    np.testing.assert_array_equal(main.z, [[90.0, nan], [50.0, nan]])
    np.testing.assert_array_equal(grey.z, [[nan, 0.0], [nan, nan]])
    assert grey.text.tolist() == [["", "insufficient<br>n = 10"], ["", ""]]
    assert main.text.tolist() == [
        ["90.0%<br>80.0–95.0<br>n = 100", ""],
        ["50.0%<br>40.0–60.0<br>n = 40", ""],
    ]
    assert main.customdata.tolist() == [
        [
            "Sensitivity 90.0%<br>95% CI 80.0% – 95.0%<br>labelled n = 100, pending 2",
            "insufficient data: fewer than 30 labelled cases<br>labelled n = 10, pending 0",
        ],
        ["Sensitivity 50.0%<br>95% CI 40.0% – 60.0%<br>labelled n = 40, pending 1", "no studies"],
    ]


def test_scipy_and_statsmodels_wait_until_the_first_page_is_drawn() -> None:
    """``import metrics`` (every page) loads neither; the server's thread loads them after the
    first page, so the first computation does not pay for them either."""
    code = (
        "import sys\n"
        "import metrics, dashboard._state, dashboard._charts\n"
        "heavy = ('scipy.stats', 'statsmodels.stats.proportion')\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "from radqa import _streamlit_server as server\n"
        "from radqa._first_page import page_drawn\n"
        "page_drawn()\n"
        "server._preload('127.0.0.1', 1, wait_s=0.05, settle_s=0)\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert run.stdout.splitlines() == ["[]", "['scipy.stats', 'statsmodels.stats.proportion']"]
