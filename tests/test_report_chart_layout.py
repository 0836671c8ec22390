"""The monthly report's volume chart with nine sites (a tester's fault: the legend, three rows
above the plot, ran into the chart's title).

The legend now sits under the rotated month labels, in rows of equal-width entries, and the
figure grows by its rows. The first tests read the figure's layout; the last draws it with
kaleido (Chromium) and measures the SVG: title above the plot, plot above the legend, the legend
inside the figure and in the rows the layout made room for.
"""

from __future__ import annotations

import math
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


# ---------------------------------------------------------------------------------------------
# Every chart with many series (a tester's data: 12 sites, 52 scanner models, 10 findings).
# Before: sites 9 to 12 took the colours of sites 1 to 4 (same line, same marker); a forest
# panel without groups turned the shared axis numeric (the site names gone, 0 2 4 instead); a
# forest plot of 12 sites and 60 scanners was 1,583 px tall (cut at the page's foot); 14
# finding x model panels made a 965 px trend chart, and panel titles wider than their panels
# ran into their neighbours and, in the p-chart, into the chart's title.

SITES12 = [*SITES, "Gwangju Regional", "Fukuoka East Clinic", "Kobe Community Hospital"]


def _report(**tables: pd.DataFrame) -> Any:
    names = ("volume_by_month", "trend_by_month", "forest_groups", "score_histograms",
             "positive_rate_spc")  # fmt: skip
    empty = {name: pd.DataFrame() for name in names}
    return SimpleNamespace(
        tables=empty | tables, month=MONTHS[-1], heterogeneity=[],
        settings=SimpleNamespace(alpha=0.05, min_n=30),
        reference=SimpleNamespace(contains=lambda m: m <= MONTHS[5]),
    )  # fmt: skip


def test_twelve_sites_differ_by_colour_or_dash_and_marker() -> None:
    chart = _volume(SITES12)
    looks = [(t.line.color, t.line.dash, t.marker.symbol) for t in chart.figure.data]
    assert len(looks) == 12
    assert len(set(looks)) == 12, looks
    assert len({(c, d) for c, d, _ in looks}) == 12  # the line alone tells them apart
    # the ninth site repeats the first one's colour, dashed and with squares
    assert looks[0] == ("#0072B2", "solid", "circle")
    assert looks[8] == ("#0072B2", "dash", "square")
    assert chart.figure.data[8].marker.color == "#0072B2"


def test_series_styles_are_distinct_up_to_128_series() -> None:
    styles = [_charts.series_style(i) for i in range(128)]
    triples = {(s["line"]["color"], s["line"]["dash"], s["marker"]["symbol"]) for s in styles}
    assert len(triples) == 128
    pairs = {(s["line"]["color"], s["line"]["dash"]) for s in styles[:32]}
    assert len(pairs) == 32


def _forest_rows(sites: list[str], scanners: list[str], *, sensitivity: bool) -> pd.DataFrame:
    rows = []
    for dim, labels in (("site", sites), ("scanner", scanners)):
        for metric in ("sensitivity", "specificity") if sensitivity else ("specificity",):
            for j, label in enumerate(labels):
                rows.append(("pneumothorax", "ChestXR-Triage", dim, metric, label,
                             0.9, 0.8, 0.95, 30 + j))  # fmt: skip
    return pd.DataFrame(rows, columns=["finding", "model_name", "dimension", "metric", "label",
                                       "value", "low", "high", "nobs"])  # fmt: skip


def test_a_forest_panel_without_groups_keeps_the_group_names() -> None:
    groups = _forest_rows(SITES[:6], ["RADREX-i", "Ysio Max"], sensitivity=False)
    [chart] = list(_charts.forest_charts(_report(forest_groups=groups)))
    layout = chart.figure.layout
    axes = [layout[name] for name in ("yaxis", "yaxis2", "yaxis3", "yaxis4")]
    assert [a.type for a in axes] == ["category"] * 4
    assert list(axes[0].categoryarray) == [*SITES[:6], "pooled"]
    assert list(axes[0].range) == [6.5, -0.5]  # every row in view, the first on top
    assert list(axes[2].range) == [2.5, -0.5]
    blank = [a.text for a in layout.annotations if a.text == "no group with enough cases"]
    assert len(blank) == 2  # the two empty sensitivity panels say why they are empty


def test_a_forest_plot_of_many_groups_fits_a_page_and_its_names() -> None:
    scanners = [f"Scanner model {i:02d} with a long product name" for i in range(60)]
    groups = _forest_rows(SITES12, scanners, sensitivity=True)
    charts = list(_charts.forest_charts(_report(forest_groups=groups)))
    # sites and scanners together need 1,583 px at 19 px a group: a chart each
    assert [c.key for c in charts] == ["forest-0", "forest-0-scanner"]
    assert [c.figure.layout.title.text for c in charts] == [
        "pneumothorax (ChestXR-Triage), 2025-12: across sites, part 1 of 2",
        "pneumothorax (ChestXR-Triage), 2025-12: across scanners, part 2 of 2",
    ]
    assert all(c.height <= _charts.PAGE_HEIGHT for c in charts)
    assert [c.height for c in charts] == [c.figure.layout.height for c in charts]
    site, scanner = charts
    assert site.height == math.ceil(120 + 19 * (12 + 2.5))  # 12 sites keep 19 px rows
    assert list(site.figure.layout.yaxis.categoryarray) == [*SITES12, "pooled"]
    # 60 scanners at (880 - 120) / 62.5 = 12.2 px, names at 7 px
    assert scanner.height == _charts.PAGE_HEIGHT
    assert scanner.figure.layout.yaxis.tickfont.size == 7
    longest = max(_charts._text_px(n, 8) for n in scanners)  # 44 characters: 218 px
    assert scanner.figure.layout.margin.l >= longest + 16 > 190
    # a few sites and scanners: one chart, 19 px rows, 8 px names and the 190 px margin
    [few] = list(_charts.forest_charts(_report(forest_groups=_forest_rows(
        SITES[:3], ["Ysio Max"], sensitivity=True))))  # fmt: skip
    assert few.figure.layout.title.text.endswith("across sites and scanners")
    assert few.height == math.ceil(120 + 19 * (3 + 2.5 + 1 + 2.5))
    assert few.figure.layout.yaxis.tickfont.size == 8
    assert few.figure.layout.margin.l == 190


def _trend(pairs: int) -> pd.DataFrame:
    findings = ["pleural_effusion", "pneumothorax", "intracranial_haemorrhage", "lung_nodule",
                "spinal_cord_compression", "pulmonary_embolism", "consolidation"]  # fmt: skip
    models = ["ChestXR-Triage", "CT-Lung"]
    keys = [(f, m) for m in models for f in findings][:pairs]
    rows = [(f, m, p, 3005, 0.7, 0.6, 0.8, 0.9, 0.85, 0.95)
            for f, m in keys for p in MONTHS]  # fmt: skip
    return pd.DataFrame(rows, columns=["finding", "model_name", "period", "n_labelled",
                                       "sensitivity", "sensitivity_low", "sensitivity_high",
                                       "specificity", "specificity_low", "specificity_high"])  # fmt: skip


def test_trend_panels_go_to_charts_that_fit_a_page_with_titles_inside_their_panels() -> None:
    charts = [c for c in _charts.iter_charts(_report(trend_by_month=_trend(14)))]
    assert [c.key for c in charts] == ["trend", "trend-2"]
    titles = [[a.text for a in c.figure.layout.annotations] for c in charts]
    assert [len(t) for t in titles] == [12, 2]
    assert all(c.height <= _charts.PAGE_HEIGHT for c in charts)
    assert charts[0].figure.layout.title.text.endswith("(n = 36,060 labelled in 2025-12, "
                                                       "part 1 of 2)")  # fmt: skip
    panel = (_charts.WIDTH - 80) * (1 - 0.06 * 2) / 3
    for text in titles[0] + titles[1]:
        for line in text.split("<br>"):
            assert _charts._text_px(line, 9) <= panel, line
    assert titles[0][0] == "consolidation (CT-Lung),<br>n = 3,005"
    assert "pleural_effusion<br>(ChestXR-Triage), n = 3,005" in titles[0]  # 190 px in one line
    # two-line titles in the first row: 12 px more at the top than one line's 60
    assert charts[0].figure.layout.margin.t == 72


def _spc() -> pd.DataFrame:
    rows = [(s, "spinal_cord_compression", m, 10 + i, 0.1 * (i % 3), 0.1, 0.0, 0.3, i - 2.0)
            for i, s in enumerate(SITES[:4]) for m in MONTHS]  # fmt: skip
    return pd.DataFrame(rows, columns=["site", "finding", "month", "n", "proportion",
                                       "center", "lcl", "ucl", "z"])  # fmt: skip


def _histograms() -> pd.DataFrame:
    rows = [(rank, SITES[rank], "Ysio Max Nova", "pneumothorax", 886, 135, 1.01, b,
             b / 50, (b + 1) / 50, 0.02, 0.02) for rank in range(4) for b in range(50)]  # fmt: skip
    return pd.DataFrame(rows, columns=["rank", "site", "scanner_model", "finding",
                                       "n_reference", "n_month", "psi", "bin", "bin_low",
                                       "bin_high", "reference_share", "month_share"])  # fmt: skip


@pytest.mark.parametrize(
    ("key", "legend", "axis_space"),
    [("trend", ["sensitivity", "specificity"], 50),
     ("histograms", ["reference", MONTHS[-1]], 45),
     ("spc", ["positive rate", "reference rate", "3-sigma limits"], 50)],
)  # fmt: skip
def test_every_legend_sits_under_its_chart_in_the_room_made_for_it(
    key: str, legend: list[str], axis_space: int
) -> None:
    report = _report(trend_by_month=_trend(3), score_histograms=_histograms(),
                     positive_rate_spc=_spc())  # fmt: skip
    chart = {c.key: c for c in _charts.iter_charts(report)}[key]
    layout = chart.figure.layout
    assert sorted(t.name for t in chart.figure.data if t.showlegend is not False) == sorted(legend)
    assert (layout.legend.yref, layout.legend.y, layout.legend.yanchor) == (
        "container", 0, "bottom",
    )  # fmt: skip
    assert layout.margin.b == axis_space + _charts.LEGEND_ROW * _charts.legend_rows(legend) + 6
    assert chart.height == layout.height


def test_two_line_panel_titles_stay_clear_of_the_chart_title() -> None:
    report = _report(positive_rate_spc=_spc(), score_histograms=_histograms())
    charts = {c.key: c for c in _charts.iter_charts(report)}
    spc = charts["spc"].figure.layout
    assert spc.annotations[0].text == (
        "Osaka General Hospital<br>spinal_cord_compression (n = 10 in 2025-12)"
    )  # the group furthest from the reference (largest |z|) is the fourth site: z = 1
    assert spc.margin.t == 72  # 60 for one line, as the trend chart's
    hist = charts["histograms"].figure.layout
    assert hist.annotations[0].text.count("<br>") == 2
    assert hist.margin.t == 110


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs /usr/bin/chromium (make system)")
def test_drawn_forest_plot_names_its_groups_beside_an_empty_panel() -> None:
    groups = _forest_rows(SITES[:6], ["RADREX-i", "Ysio Max"], sensitivity=False)
    [chart] = list(_charts.forest_charts(_report(forest_groups=groups)))
    svg = _charts.render_svgs([chart])[0]
    ticks = re.findall(r'<g class="y[0-9]*tick">\s*<text[^>]*>([^<]*)</text>', svg)
    # before: '0', '2', '4' beside the empty panels and no group's name
    assert set(ticks) == {*SITES[:6], "RADREX-i", "Ysio Max", "pooled"}, ticks
    assert ticks.count("Osaka General Hospital") == 1  # once: beside the left panel only
    assert "no group with enough cases" in svg
