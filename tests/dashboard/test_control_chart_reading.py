"""Drift › Control charts, as a reviewer read them: a CUSUM climbing to 23 SD on a group of 5-16
studies a month drew no decision line and marked no signal, EWMA marked none either, nothing
said that no alert rule watches these charts, nor that a handful of expected cases makes the
limits' normal approximation poor."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

import metrics
from dashboard import _charts
from metrics._periods import ReferenceWindow

from .conftest import charts, open_tab


def _part() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": ["sensitivity"] * 3,
            "month": ["2026-08", "2026-09", "2026-10"],
            "n": [12, 5, 16],
            "proportion": [0.5, 0.2, 0.9],
            "center": [0.6] * 3,
            "lcl": [0.2, 0.0, 0.3],
            "ucl": [1.0, 1.0, 0.95],
            "cusum_pos": [0.0, 1.0, 5.5],
            "cusum_neg": [4.5, 0.2, 0.0],
            "cusum_h": [4.0] * 3,
            "cusum_signal": [True, False, True],
            "ewma": [0.1, -0.9, 1.2],
            "ewma_limit": [0.6, 0.8, 0.9],
            "ewma_signal": [False, True, True],
            "p_chart_signal": [False, True, False],
        }
    )


def _trace(fig, name: str):  # noqa: ANN001, ANN202
    return next(t for t in fig.data if t.name == name)


def test_cusum_draws_its_decision_interval_and_marks_the_months_beyond_it() -> None:
    fig = _charts.cusum_chart(_part())
    h = _trace(fig, "decision interval h = 4")
    assert list(h.y) == [4.0, 4.0, 4.0]
    signal = _trace(fig, "signal")
    assert list(signal.x) == ["2026-08", "2026-10"] and list(signal.y) == [4.5, 5.5]
    # each month's n on hover
    up = _trace(fig, "CUSUM upward")
    assert [row[0] for row in up.customdata] == [12, 5, 16]


def test_ewma_and_p_chart_mark_their_signals() -> None:
    ewma = _trace(_charts.ewma_chart(_part()), "signal")
    assert list(ewma.x) == ["2026-09", "2026-10"] and list(ewma.y) == [-0.9, 1.2]
    p = _trace(_charts.p_chart(_part()), "signal")
    assert list(p.x) == ["2026-09"] and list(p.y) == [20.0]


def test_page_says_what_the_charts_are_and_when_they_mislead(app, demo_dir, con) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir, "views/drift.py"), "dr_tab", "Control charts")
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Each month against"))
    assert "tabular CUSUM with k = 0.5, h = 4; EWMA with λ = 0.2, L = 3." in caption
    assert "No alert rule uses a control chart (none of the defaults does)" in caption
    # the picked series: its n range in the caption, a warning when a month expects < 5
    [spec] = charts(at)
    custom = spec["data"][0]["customdata"]
    if isinstance(custom, dict):  # plotly 6 writes numpy arrays as bytes
        shape = [int(k) for k in str(custom.get("shape", "0")).split(",")]
        raw = np.frombuffer(base64.b64decode(custom["bdata"]), dtype=custom["dtype"])
        custom = raw.reshape(shape).tolist()
    n = [int(c[0]) for c in custom]
    assert f"n per month: {min(n):,} to {max(n):,}." in caption
    at.session_state["dr_spc_tab"] = "CUSUM"
    at.run()
    [cusum] = charts(at)
    assert any(t["name"] == "decision interval h = 4" for t in cusum["data"])
    # the boxes start on the finding, then the site, with the most cases (the alphabetically
    # first was a site's rare finding: 5-16 studies a month); its months expect 5 or more
    spc = metrics.monitor(
        con, month=at.selectbox(key="dr_month").value, reference=ReferenceWindow.first_months(6)
    ).spc
    rate = spc[spc["metric"] == at.selectbox(key="dr_spc_metric").value]
    finding = rate.groupby("finding")["n"].sum().idxmax()
    site = rate[rate["finding"] == finding].groupby("site")["n"].sum().idxmax()
    assert at.selectbox(key="dr_spc_finding").value == finding
    assert at.selectbox(key="dr_spc_site").value == site
    # a small series: the warning that its limits rest on a poor normal approximation
    small = rate.groupby(["finding", "site"])["n"].sum().idxmin()
    at.selectbox(key="dr_spc_finding").set_value(small[0]).run()
    at.selectbox(key="dr_spc_site").set_value(small[1]).run()
    warned = [w.value for w in at.warning if "expected fewer than 5" in w.value]
    assert warned and warned[0].startswith("In ")
