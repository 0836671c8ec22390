"""The Overview as a reviewer saw it: KPI tiles that wrapped five and one at a 1280 px window,
and a trend chart whose findings' CI bars in one month lay on top of each other."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from dashboard import _charts
from dashboard._tiles import TILES_PER_ROW, Tile, TileGroup, tiles_html
from metrics import Filters, summarize

from .conftest import charts, open_tab


def test_tiles_in_two_even_rows_of_three() -> None:
    group = TileGroup(
        "M · f", "n", tuple(Tile(f"k{i}", "1.0%", "95% CI 0.5% – 2.0%") for i in range(6))
    )
    page = tiles_html([group])
    # a fixed count, not as many 8.5rem tiles as fit (five at 1280 px, then one alone)
    assert TILES_PER_ROW == 3
    rule = re.search(r"\.kpi-row \{[^}]*\}", page)
    assert rule is not None
    assert "grid-template-columns: repeat(3, minmax(0, 1fr))" in rule.group()
    assert "auto-fit" not in page and "auto-fill" not in page
    assert page.count('class="kpi"') == 6


def test_overview_tiles_per_group_fill_their_rows(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir)
    block = next(h.value for h in at.html if 'class="radqa-kpis"' in h.value)
    assert "grid-template-columns: repeat(3, minmax(0, 1fr))" in block
    rows = block.split('<div class="kpi-row">')[1:]
    assert rows
    # each group's six KPIs: two full rows of three, none alone
    assert {r.split("</div></div></div>")[0].count('class="kpi"') for r in rows} == {6}


def matrix(value: object) -> np.ndarray:
    """A plotly data array: nested lists, or numpy bytes as {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(x) for x in shape.split(",")]
        return flat.reshape(shape) if shape else flat
    return np.asarray(value, dtype=float)


def _by_month() -> pd.DataFrame:
    months = ["2026-01", "2026-02"]
    rows = []
    for finding, base in (("a", 0.6), ("b", 0.62), ("c", 0.64)):
        for i, m in enumerate(months):
            v = base + i / 100
            rows.append(
                {"finding": finding, "period": m, "sensitivity": v, "sensitivity_low": v - 0.1,
                 "sensitivity_high": v + 0.1, "n_labelled": 1200 + i, "pending": 3}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_trend_series_dodged_within_a_month() -> None:
    fig = _charts.trend(
        _by_month(), "sensitivity", series="finding", colours=_charts.colour_map(["a", "b", "c"])
    )
    # the series sit side by side in a month, each its own offset group (plotly.js shifts
    # each group's points and bars within the month's category)
    assert fig.layout.scattermode == "group"
    assert fig.layout.scattergap == _charts.TREND_GAP == 0.15
    assert [t.offsetgroup for t in fig.data] == ["a", "b", "c"]
    assert [t.name for t in fig.data] == ["a", "b", "c"]
    # the months stay categories, the x data the months themselves
    assert fig.layout.xaxis.type == "category"
    assert all(list(t.x) == ["2026-01", "2026-02"] for t in fig.data)
    # caps narrower than the space between two dodged series
    assert all(t.error_y.width == 2 for t in fig.data)


def test_trend_hover_gives_month_estimate_ci_and_n() -> None:
    fig = _charts.trend(
        _by_month(), "sensitivity", series="finding", colours=_charts.colour_map(["a", "b", "c"])
    )
    first = fig.data[0]
    assert first.hovertemplate == (
        "%{x}: %{y:.1f}% (95% CI %{customdata[2]:.1f}–%{customdata[3]:.1f}%)"
        "<br>labelled n = %{customdata[0]:,}, pending %{customdata[1]:,}<extra>a</extra>"
    )
    assert [list(r) for r in first.customdata] == [
        [1200, 3, pytest.approx(50.0), pytest.approx(70.0)],
        [1201, 3, pytest.approx(51.0), pytest.approx(71.0)],
    ]
    # a coefficient to three decimals, without a unit
    auc = _by_month().rename(columns=lambda c: c.replace("sensitivity", "auc"))
    hover = _charts.trend(auc, "auc", series="finding", colours={}).data[0].hovertemplate
    assert hover.startswith("%{x}: %{y:.3f} (95% CI %{customdata[2]:.3f}–%{customdata[3]:.3f})")


def test_overview_trend_dodged_with_ci_on_hover(app, demo_dir, con) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir), "ov_tab", "Trend")
    at.selectbox(key="ov_model").set_value("ChestXR-Triage").run()
    assert not at.exception
    spec = charts(at)[0]
    assert spec["layout"]["scattermode"] == "group"
    names = [t["name"] for t in spec["data"]]
    assert len(names) > 1
    assert [t["offsetgroup"] for t in spec["data"]] == names
    expected = summarize(
        con, by=("model_name", "finding"), period="month",
        filters=Filters(model_name=("ChestXR-Triage",)),
    )  # fmt: skip
    first = expected[expected["finding"] == names[0]].sort_values("period")
    shown = pd.DataFrame(
        matrix(spec["data"][0]["customdata"]), columns=["n", "pending", "low", "high"]
    )
    assert list(shown["n"]) == list(first["n_labelled"])
    assert list(shown["low"]) == pytest.approx(list(100 * first["sensitivity_low"]), nan_ok=True)
    assert list(shown["high"]) == pytest.approx(list(100 * first["sensitivity_high"]), nan_ok=True)
