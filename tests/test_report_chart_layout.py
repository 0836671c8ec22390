"""The monthly report's volume chart with nine sites (a tester's fault: the legend, three rows
above the plot, ran into the chart's title).

The legend now sits under the rotated month labels, in rows of equal-width entries, and the
figure grows by its rows. The first tests read the figure's layout; the last draws it with
kaleido (Chromium) and measures the SVG: title above the plot, plot above the legend, the legend
inside the figure and in the rows the layout made room for.
"""

from __future__ import annotations

import re
import shutil
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from reports import _charts

SITES = ["Osaka General Hospital", "Seoul National University Hospital", "Kyoto Medical Centre",
         "Busan Regional", "Tokyo East Clinic", "Sapporo City Hospital",
         "Incheon Harbour Hospital", "Nagoya University Hospital", "Daegu Central"]  # fmt: skip
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


def _volume(sites: list[str]) -> _charts.Chart:
    vol = pd.DataFrame(
        [(m, s, 40 + 5 * i) for m in MONTHS for i, s in enumerate(sites)],
        columns=["month", "site", "n"],
    )
    report: Any = SimpleNamespace(tables={"volume_by_month": vol}, month=MONTHS[-1])
    chart = _charts.volume_chart(report)
    assert chart is not None
    return chart


def test_nine_sites_legend_sits_at_the_bottom_in_rows_the_margin_holds() -> None:
    chart = _volume(SITES)
    legend, margin = chart.figure.layout.legend, chart.figure.layout.margin
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == (
        "h", "container", 0, "bottom",
    )  # fmt: skip
    # the longest name (34 characters, about 190 px at 9 px) lets two entries share a row
    assert _charts.legend_rows(SITES) == 5
    assert legend.entrywidth == 250 and legend.entrywidthmode == "pixels"
    assert 2 * (legend.entrywidth + _charts.LEGEND_ENTRY) <= _charts.WIDTH - 60 - 20
    assert margin.b == 60 + 5 * _charts.LEGEND_ROW + 6
    assert margin.t == 45  # the title's alone: no legend above the plot
    assert chart.height == chart.figure.layout.height == 290 + 5 * _charts.LEGEND_ROW
    # the plot keeps the height it had with one legend row
    one = _volume(SITES[:2])
    assert _charts.legend_rows(SITES[:2]) == 1
    plot_height = chart.height - margin.t - margin.b
    assert plot_height == one.height - one.figure.layout.margin.t - one.figure.layout.margin.b


@pytest.mark.parametrize(
    ("names", "rows"),
    [
        ([f"S{i}" for i in range(20)], 3),  # short names: 8 a row
        (["大阪病院", "서울대병원"], 1),  # wide CJK characters count 1 em each
        (["x" * 120], 1),  # one name longer than a row: one column
    ],
)
def test_legend_rows(names: list[str], rows: int) -> None:
    assert _charts.legend_rows(names) == rows


def _num(pattern: str, svg: str, group: int = 1) -> float:
    found = re.search(pattern, svg)
    assert found is not None, f"{pattern!r} is not in the SVG"
    return float(found.group(group))


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs /usr/bin/chromium (make system)")
def test_drawn_legend_is_below_the_plot_and_the_title_above_it() -> None:
    chart = _volume(SITES)
    svg = _charts.render_svgs([chart])[0]
    title_y = _num(r'<text class="gtitle"[^>]*\by="([0-9.]+)"', svg)
    xy = r'<g class="xy" transform="translate\(([0-9.]+),\s*([0-9.]+)\)"'
    plot_x, plot_y = _num(xy, svg), _num(xy, svg, 2)
    plot_h = _num(r'class="plotclip"><rect width="[0-9.]+" height="([0-9.]+)"', svg)
    legend_y = _num(r'<g class="legend"[^>]*translate\([0-9.]+,\s*([0-9.]+)\)', svg)
    entry = r'class="traces" transform="translate\([0-9.]+,\s*([0-9.]+)\)'
    rows = sorted({float(y) for y in re.findall(entry, svg)})
    assert title_y < plot_y, (title_y, plot_y)
    # under the plot and its rotated month labels (about 40 px), and inside the figure
    assert legend_y > plot_y + plot_h + 40, (legend_y, plot_y, plot_h)
    assert legend_y + rows[-1] + _charts.LEGEND_ROW / 2 <= chart.height, (legend_y, rows)
    assert len(rows) == 5, rows  # as many rows as the margin was made for
    assert plot_h > 150, plot_h  # the legend did not squeeze the plot
    assert plot_x == 60
