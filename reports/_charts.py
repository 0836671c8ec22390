"""Static SVG charts of the monthly report: plotly figures exported by kaleido 1.x.

One :class:`SvgRenderer` (one headless Chromium with two tabs, found at /usr/bin/chromium;
nothing is downloaded, MathJax is off) draws every chart of a report, each as soon as
:func:`iter_charts` has built it. Intervals are drawn with few SVG nodes (a ribbon per trend
line), because WeasyPrint's time for the PDF grows with every SVG node. The SVG's random plotly uid is replaced by the chart's position,
so the same report gives byte-identical SVG. Colours are the Okabe & Ito (2008) colour-blind-safe
palette (with a dash and a marker of its own for each series past its 8 colours:
:func:`series_style`), months are category axes, and every title states its n. Legends sit under
the plot (:func:`legend_below`) and the figure grows by their rows; a chart that would not fit an
A4 page is drawn as two.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from radqa.errors import RadQAError, first_line
from reports._render import NO_I2_CI, i2_ci, no_i2_ci_note

if TYPE_CHECKING:
    from reports.monthly import MonthlyReport

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]  # fmt: skip
# DejaVu Sans has no CJK glyphs: Japanese and Korean site names take Noto Sans CJK (fonts-noto-cjk)
FONT = "DejaVu Sans, Noto Sans CJK JP, Arial, sans-serif"
WIDTH = 680
#: The height of one row of a horizontal legend at 9 px, and the space an entry takes besides
#: its text (the line sample, 40 px in plotly.js, and the gap to the next entry).
LEGEND_ROW = 19
LEGEND_ENTRY = 50
#: The tallest chart that fits an A4 page with its caption: the page's 265 mm of content hold
#: 969 px of a chart drawn 680 px wide over its 186 mm.
PAGE_HEIGHT = 880
#: A forest plot's rows are 19 px apart, closer (down to this) when the chart would not fit a
#: page; its group names are drawn at 7 px then. The left margin holds the longest group name,
#: up to this.
FOREST_MIN_PITCH = 11
FOREST_MAX_LEFT = 330
#: The width of a panel of a two-column grid (plotly's default spacing, 0.1 of the plot width).
HALF_PANEL = (WIDTH - 60 - 20) * 0.9 / 2
#: The panels of one trend chart (four rows of three): more go to a second chart, a chart taller
#: than a page would be cut at its foot in the PDF.
TREND_PANELS = 12
#: The height of month labels at 7 px rotated by 45 degrees, with their ticks.
TICKS_7PX = 50
#: With more series than the palette has colours, the colours come round again with another
#: dash and marker: 8 colours x 4 dashes are 32 distinct pairs, and with the markers (whose
#: order shifts every 4th round) 8 x 16 = 128 distinct colour, dash and marker triples.
DASHES = ("solid", "dash", "dot", "dashdot")
SYMBOLS = ("circle", "square", "diamond", "triangle-up")
_UID = re.compile(r'id="defs-([0-9a-z]+)"')


@dataclass(frozen=True)
class Chart:
    """A chart of the report: a stable key, its caption and its figure (SVG after render)."""

    key: str
    section: str
    caption: str
    figure: go.Figure
    height: int


def _layout(fig: go.Figure, title: str, height: int) -> None:
    fig.update_layout(
        title={"text": title, "font": {"size": 13}, "x": 0.01, "xanchor": "left"},
        font={"family": FONT, "size": 10, "color": "#222"},
        colorway=OKABE_ITO,
        template="simple_white",
        width=WIDTH,
        height=height,
        margin={"l": 60, "r": 20, "t": 75, "b": 40},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0, "font": {"size": 9}},
    )


def series_style(i: int) -> dict[str, dict[str, str]]:
    """The ``line`` and ``marker`` of series ``i`` (0-based) of a chart with one series per
    group (site, scanner, finding): the palette's colours with solid lines and circles first,
    then the same colours dashed with squares, dotted with diamonds, and so on, so that no two
    of the first 128 series look alike (plotly's own colourway repeats after 10, ours after 8).
    """
    colour = OKABE_ITO[i % len(OKABE_ITO)]
    round_ = i // len(OKABE_ITO)
    dash = DASHES[round_ % len(DASHES)]
    symbol = SYMBOLS[(round_ + round_ // len(DASHES)) % len(SYMBOLS)]
    return {"line": {"color": colour, "dash": dash}, "marker": {"color": colour, "symbol": symbol}}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _month_axis(fig: go.Figure, months: list[str]) -> None:
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=months, tickangle=-45)


# ------------------------------------------------------------------------------ figures
def volume_chart(report: MonthlyReport) -> Chart | None:
    vol = report.tables["volume_by_month"]
    if vol.empty:
        return None
    months = sorted(vol["month"].unique())
    fig = go.Figure()
    for i, (site, part) in enumerate(vol.groupby("site", sort=True)):
        fig.add_trace(go.Scatter(
            x=part["month"], y=part["n"], name=str(site), mode="lines+markers",
            **series_style(i),
        ))  # fmt: skip
    total = int(vol.loc[vol["month"] == report.month, "n"].sum())
    sites = [str(t.name) for t in fig.data]
    # the legend goes under the rotated month labels, in as many rows as the sites need: above
    # the plot, nine sites took three rows and ran into the title
    rows = legend_rows(sites)
    height = 290 + LEGEND_ROW * rows
    _layout(fig, f"Studies per month by site (n = {total:,} in {report.month})", height)
    _month_axis(fig, months)
    fig.update_yaxes(title_text="studies", rangemode="tozero")
    fig.update_layout(margin={"t": 45})  # the title's alone: no legend above the plot
    legend_below(fig, sites, axis_space=60)
    return Chart("volume", "volume", "Monthly study volume per site since the reference window "
                 "(the volume rule's counts).", fig, height)  # fmt: skip


def _text_px(text: str, size: float = 9) -> float:
    """The width of ``text`` at ``size`` px in DejaVu Sans, rounded up: 0.62 em a character,
    1 em a wide (CJK) one."""
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.62 * size for ch in text)


def _legend_columns(names: list[str]) -> tuple[int, float]:
    """How many entries of a horizontal legend fit a row of the plot's width, and the width of
    the text of each (every entry as wide as the longest name's)."""
    plot = WIDTH - 60 - 20  # _layout's left and right margins
    entry = LEGEND_ENTRY + max((_text_px(n) for n in names), default=0)
    cols = max(1, min(len(names), int(plot // entry)))
    return cols, plot // cols - LEGEND_ENTRY  # plotly's entrywidth is the text's part


def legend_rows(names: list[str]) -> int:
    """The rows a horizontal legend of ``names`` takes (:func:`legend_below`)."""
    return math.ceil(len(names) / _legend_columns(names)[0]) if names else 0


def legend_space(names: list[str], *, axis_space: int) -> int:
    """The bottom margin :func:`legend_below` gives a legend of ``names``: the x axis's
    ``axis_space`` px of tick labels (and title), then a row of :data:`LEGEND_ROW` px for each
    row of entries. A chart's height is its title, its plot and this."""
    return axis_space + LEGEND_ROW * legend_rows(names) + 6


def legend_below(fig: go.Figure, names: list[str], *, axis_space: int) -> None:
    """A horizontal legend at the bottom of the figure, under the x axis's ``axis_space`` px of
    tick labels, in columns of equal width; the bottom margin holds its rows, so the legend
    never meets the plot, its labels or the title, however many entries it has. Every chart
    with a legend places it so, and grows by :func:`legend_space` (the plot keeps its size)."""
    _, entry = _legend_columns(names)
    fig.update_layout(
        legend={"orientation": "h", "xref": "paper", "x": 0, "xanchor": "left",
                "yref": "container", "y": 0, "yanchor": "bottom",
                "entrywidth": entry, "entrywidthmode": "pixels", "tracegroupgap": 0},
        margin={"b": legend_space(names, axis_space=axis_space)},
    )  # fmt: skip


def trend_charts(report: MonthlyReport) -> Iterator[Chart]:
    """Sensitivity and specificity by month, a panel per finding and AI model, three panels a
    row; more than :data:`TREND_PANELS` panels are drawn as several charts, each fitting a page.
    """
    trend = report.tables["trend_by_month"]
    if trend.empty:
        return
    parts = list(trend.groupby(["finding", "model_name"], sort=True))
    charts = math.ceil(len(parts) / TREND_PANELS)
    for k in range(charts):
        chunk = parts[k * TREND_PANELS : (k + 1) * TREND_PANELS]
        of = f", part {k + 1} of {charts}" if charts > 1 else ""
        yield _trend_chart(report, chunk, "trend" if k == 0 else f"trend-{k + 1}", of)


def _trend_chart(
    report: MonthlyReport, parts: list[tuple[Any, pd.DataFrame]], key: str, of: str
) -> Chart:
    trend = pd.concat([part for _, part in parts])
    months = sorted(report.tables["trend_by_month"]["period"].unique())
    cols = 3
    rows = (len(parts) + cols - 1) // cols
    panel = (WIDTH - 60 - 20) * (1 - 0.06 * (cols - 1)) / cols  # a panel's width in px
    titles = []
    for (finding, model), part in parts:
        n = int(part.loc[part["period"] == report.month, "n_labelled"].sum())
        titles.append(wrap_title([str(finding), f"({model}),", f"n = {n:,}"], panel))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.5 / max(rows, 1), shared_yaxes=True)  # fmt: skip
    for i, (_, part) in enumerate(parts):
        r, c = i // cols + 1, i % cols + 1
        for metric, colour in (("sensitivity", OKABE_ITO[0]), ("specificity", OKABE_ITO[1])):
            for run in _runs(part, f"{metric}_low"):
                for bound in ("low", "high"):  # the 95% CI as a ribbon: fill from low up to high
                    fig.add_trace(go.Scatter(
                        x=run["period"], y=run[f"{metric}_{bound}"], mode="lines",
                        line={"width": 0, "color": colour}, legendgroup=metric,
                        showlegend=False, fill="tonexty" if bound == "high" else None,
                        fillcolor=_rgba(colour, 0.25), hoverinfo="skip",
                    ), row=r, col=c)  # fmt: skip
            fig.add_trace(go.Scatter(
                x=part["period"], y=part[metric], name=metric, legendgroup=metric,
                showlegend=i == 0, mode="lines", line={"color": colour, "width": 1.2},
            ), row=r, col=c)  # fmt: skip
    legend = ["sensitivity", "specificity"]
    top = _top_for_panel_titles(60, titles[:cols])
    # the title, the panels (175 px a row less the spacing), the months and the legend
    height = top + 175 * rows - 60 + legend_space(legend, axis_space=TICKS_7PX)
    n = int(trend.loc[trend["period"] == report.month, "n_labelled"].sum())
    _layout(fig, f"Sensitivity and specificity by month, 95% CI (n = {n:,} labelled in "
            f"{report.month}{of})", height)  # fmt: skip
    _month_axis(fig, months)
    # every panel gets its months (only the last row had them, at 6 pt), every 6th labelled
    fig.update_xaxes(tickfont={"size": 7}, tickvals=months[::-1][::6][::-1])
    fig.update_yaxes(range=[0, 1.05], dtick=0.25)
    fig.update_annotations(font_size=9)
    fig.update_layout(margin={"t": top})
    legend_below(fig, legend, axis_space=TICKS_7PX)  # below the rotated month labels
    _reference_band(fig, months, report, rows=rows, cols=cols)
    return Chart(key, "performance", "Per finding, by month since the reference window "
                 "(grey background), with the 95% CI as a coloured band; n in each title is this month's labelled cases. Months with fewer "
                 f"than {report.settings.min_n} labelled cases have no estimate.", fig, height)  # fmt: skip


def wrap_title(words: list[str], width: float, size: float = 9) -> str:
    """``words`` joined by spaces, with a line break (``<br>``) before each word that would
    take a line past ``width`` px at ``size`` px: a panel's title wider than its panel ran into
    its neighbour's. A single word wider than the panel keeps a line of its own."""
    lines: list[str] = []
    for word in words:
        if lines and _text_px(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "<br>".join(lines)


def wrap_lines(lines: list[str], width: float, size: float = 9) -> str:
    """A panel title of several lines, each wrapped at its spaces to ``width`` px
    (:func:`wrap_title`)."""
    return "<br>".join(wrap_title(line.split(" "), width, size) for line in lines)


def _top_for_panel_titles(top: int, first_row: list[str]) -> int:
    """The top margin over a grid of panels: ``top`` for first-row titles of one line, and
    12 px more for each further line, so they stay clear of the chart's title."""
    lines = max((t.count("<br>") for t in first_row), default=0)
    return top + 12 * lines


def _runs(part: pd.DataFrame, column: str) -> list[pd.DataFrame]:
    """The runs of consecutive rows of ``part`` where ``column`` has a value: a filled band
    drawn across a month without an estimate closes into a false polygon."""
    has = part[column].notna()
    run_id = (has != has.shift()).cumsum()
    return [run for _, run in part[has].groupby(run_id[has], sort=False)]


def _reference_band(
    fig: go.Figure, months: list[str], report: MonthlyReport, rows: int, cols: int
) -> None:
    ref = [m for m in months if report.reference.contains(m)]
    if not ref:
        return
    lo, hi = months.index(ref[0]) - 0.5, months.index(ref[-1]) + 0.5
    fig.add_vrect(x0=lo, x1=hi, fillcolor="#999", opacity=0.15, line_width=0, row="all",
                  col="all")  # fmt: skip


def forest_charts(report: MonthlyReport) -> Iterator[Chart]:
    """A forest plot per finding and AI model: sites above, scanners below. When both do not
    fit a page at 19 px a group, the sites and the scanners get a chart each."""
    groups = report.tables["forest_groups"]
    if groups.empty:
        return
    het = {(h["finding"], h["dimension"], h["metric"]): h for h in report.heterogeneity}
    for i, ((finding, model), part) in enumerate(
        groups.groupby(["finding", "model_name"], sort=True)
    ):
        dims = [d for d in ("site", "scanner") if (part["dimension"] == d).any()]
        if len(dims) > 1 and _forest_height([_forest_k(part, d) for d in dims], 19) > PAGE_HEIGHT:
            yield _forest_chart(report, het, finding, model, part, ["site"], f"forest-{i}", 1)
            yield _forest_chart(report, het, finding, model, part, ["scanner"],
                                f"forest-{i}-scanner", 2)  # fmt: skip
        else:
            yield _forest_chart(report, het, finding, model, part, dims, f"forest-{i}")


def _forest_k(part: pd.DataFrame, dim: str) -> int:
    """The groups of ``dim`` in a forest plot (the larger of its two panels')."""
    return int(part[(part["dimension"] == dim)].groupby("metric").size().max())


def _forest_height(k: list[int], pitch: float) -> int:
    """120 px for the title and axes, ``pitch`` px a group, 2.5 rows a panel for the pooled
    row and the panel's title."""
    return math.ceil(120 + pitch * sum(x + 2.5 for x in k))


def _forest_chart(
    report: MonthlyReport, het: dict[tuple[str, str, str], dict[str, Any]], finding: str,
    model: str, part: pd.DataFrame, dims: list[str], key: str, split: int = 0,
) -> Chart:  # fmt: skip
    part = part[part["dimension"].isin(dims)]
    k = [_forest_k(part, d) for d in dims]
    titles = []
    for d in dims:
        for metric in ("sensitivity", "specificity"):
            titles.append(_forest_title(het.get((finding, d, metric)), d, metric))
    # 19 px a group (two forest plots of ~6 groups a page), less when so many groups that the
    # chart would not fit a page (its foot would be cut in the PDF)
    pitch = max(FOREST_MIN_PITCH, min(19, (PAGE_HEIGHT - 120) / sum(x + 2.5 for x in k)))
    height = _forest_height(k, pitch)
    fig = make_subplots(rows=len(dims), cols=2, subplot_titles=titles, shared_yaxes=True,
                        shared_xaxes=True,
                        row_heights=[x + 1.5 for x in k], vertical_spacing=65 / (height - 90),
                        horizontal_spacing=0.08)  # fmt: skip
    for r, d in enumerate(dims, start=1):
        for c, metric in enumerate(("sensitivity", "specificity"), start=1):
            rows = part[(part["dimension"] == d) & (part["metric"] == metric)]
            _forest_traces(fig, rows, het.get((finding, d, metric)), r, c)
        # both panels of a row share the y axis: every group first, the pooled row last
        labels = list(dict.fromkeys(str(x) for x in part.loc[part["dimension"] == d, "label"]))
        for c in (1, 2):
            # a category axis whatever the panel holds: a panel without a group (no
            # reference-positive cases) made the shared axis numeric, and the row lost every
            # group's name; every row in view, top down, also where autorange saw fewer (one
            # group and no pooled estimate put 'pooled' on the x axis's line)
            fig.update_yaxes(type="category", categoryorder="array",
                             categoryarray=[*labels, "pooled"],
                             range=[len(labels) + 0.5, -0.5], row=r, col=c)  # fmt: skip
    n = forest_positives(part)
    shown = [het.get((finding, d, m)) for d in dims for m in ("sensitivity", "specificity")]
    why = ""
    if _no_i2_ci(shown):
        why = " " + no_i2_ci_note(report.settings.alpha)
    across = "sites and scanners" if not split else f"{dims[0]}s, part {split} of 2"
    _layout(fig, f"{finding} ({model}), {report.month}: across {across}", height)
    top = 72 if any("<br>" in t for t in titles[:2]) else 60  # a first-row title of 2 lines
    # the group names at 8 px, however long (up to FOREST_MAX_LEFT), left of the plots
    names = max((_text_px(str(x), 8) for x in part["label"]), default=0)
    left = int(min(FOREST_MAX_LEFT, max(190, math.ceil(names) + 16)))
    fig.update_layout(showlegend=False, margin={"l": left, "r": 20, "t": top, "b": 30})
    fig.update_xaxes(range=[0, 1.27], tickvals=[0, 0.25, 0.5, 0.75, 1])
    fig.update_yaxes(tickfont={"size": 8 if pitch >= 13 else 7})
    fig.update_annotations(font_size=10)
    return Chart(
        key, "performance",
        f"{finding}: sensitivity ({n}) and specificity per group with Wilson 95% CI; "
        "diamond: random-effects pooled estimate (REML) with its 95% CI. Groups with too "
        f"few cases are left out.{why}", fig, height,
    )  # fmt: skip


def forest_positives(part: pd.DataFrame) -> str:
    """'n = 13 reference-positive cases in the site groups shown, 13 in the scanner groups':
    each panel counts the same cases once, so the panels are never added up."""
    sens = part[part["metric"] == "sensitivity"]
    counts = [(d, int(sens.loc[sens["dimension"] == d, "nobs"].sum()))
              for d in ("site", "scanner") if (sens["dimension"] == d).any()]  # fmt: skip
    if not counts:
        return "no group with enough reference-positive cases"
    text = [f"{k:,} in the {d} groups shown" for d, k in counts]
    return f"n = reference-positive cases: {', '.join(text)}"


def _forest_title(h: dict[str, Any] | None, dim: str, metric: str) -> str:
    """'Sensitivity by site: I² = 46% (0%–98.6%)', formatted as the heterogeneity table's cell
    (:func:`reports._render.i2_ci`); an empty Q-profile interval (NaN bounds: Q below the
    lower chi² quantile, at any k) reads '(no CI: Q-profile interval empty)', a REML tau² that
    did not converge 'I² not estimable'."""
    base = f"{metric.capitalize()} by {dim}"
    if not h or "i2" not in h:  # fewer than two groups
        return base
    if not _finite(h["i2"]):
        return f"{base}: I² not estimable"
    text = i2_ci(h["i2"], h["i2_low"], h["i2_high"])
    if NO_I2_CI in text:  # too long for one line over a panel half the page wide
        return f"{base}: I² = {text.replace(' (', '<br>(', 1)}"
    return f"{base}: I² = {text}"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _no_i2_ci(hs: Iterable[dict[str, Any] | None]) -> bool:
    """Whether any of these heterogeneity rows has an I² without its (empty) interval."""
    return any(
        h is not None and "i2" in h and _finite(h["i2"])
        and not (_finite(h["i2_low"]) and _finite(h["i2_high"]))
        for h in hs
    )  # fmt: skip


def _forest_traces(
    fig: go.Figure, rows: pd.DataFrame, h: dict[str, Any] | None, r: int, c: int
) -> None:
    labels = [str(lab) for lab in rows["label"]]
    if rows.empty:  # a blank panel reads as missing: say why
        fig.add_annotation(text="no group with enough cases", x=0.5, y=0.5, xref="x domain",
                           yref="y domain", showarrow=False, font={"size": 9, "color": "#555"},
                           row=r, col=c)  # fmt: skip
    fig.add_trace(go.Scatter(
        x=[1.14] * len(rows), y=labels, mode="text", text=[f"n={n}" for n in rows["nobs"]],
        textfont={"size": 8, "color": "#555"},
    ), row=r, col=c)  # fmt: skip
    fig.add_trace(go.Scatter(
        x=rows["value"], y=labels, mode="markers", marker={"color": OKABE_ITO[0], "size": 6,
                                                           "symbol": "square"},
        error_x={"type": "data", "symmetric": False, "array": rows["high"] - rows["value"],
                 "arrayminus": rows["value"] - rows["low"], "thickness": 1, "width": 0,
                 "color": OKABE_ITO[0]},
    ), row=r, col=c)  # fmt: skip
    if h and "pooled_reml" in h:
        lo, v, hi = h["pooled_reml_low"], h["pooled_reml"], h["pooled_reml_high"]
        fig.add_trace(go.Scatter(  # a categorical row has no height: a diamond marker + its CI
            x=[v], y=["pooled"], mode="markers",
            marker={"symbol": "diamond-wide", "size": 13, "color": OKABE_ITO[5]},
            error_x={"type": "data", "symmetric": False, "array": [hi - v],
                     "arrayminus": [v - lo], "thickness": 2, "width": 4,
                     "color": OKABE_ITO[5]},
        ), row=r, col=c)  # fmt: skip


def histogram_chart(report: MonthlyReport) -> Chart | None:
    hist = report.tables["score_histograms"]
    if hist.empty:
        return None
    parts = list(hist.groupby("rank", sort=True))
    titles = []
    for _, p in parts:
        first = p.iloc[0]
        titles.append(wrap_lines([
            str(first["site"]), f"{first['scanner_model']}, {first['finding']}",
            f"n ref {int(first['n_reference']):,}, month {int(first['n_month']):,}; "
            f"PSI {first['psi']:.2f}"], HALF_PANEL))  # fmt: skip
    cols = 2
    rows = (len(parts) + 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.25)
    for i, (_, p) in enumerate(parts):
        r, c = i // cols + 1, i % cols + 1
        mid = (p["bin_low"] + p["bin_high"]) / 2
        for name, col, colour in (("reference", "reference_share", OKABE_ITO[0]),
                                  (report.month, "month_share", OKABE_ITO[5])):  # fmt: skip
            fig.add_trace(go.Scatter(
                x=mid, y=p[col], name=name, legendgroup=name, showlegend=i == 0,
                mode="lines", line={"shape": "hvh", "color": colour, "width": 1.3},
            ), row=r, col=c)  # fmt: skip
    legend = ["reference", report.month]
    # the title and the first row's panel titles (three lines: 110 px), the panels, the score
    # axis (ticks and title) and the legend
    top = _top_for_panel_titles(86, titles[:2])
    height = top + 230 * rows - 70 + legend_space(legend, axis_space=45)
    _layout(fig, "AI score distributions: reference window vs this month", height)
    fig.update_annotations(font_size=9)
    fig.update_xaxes(range=[0, 1], title_text="score", title_font_size=9)
    fig.update_yaxes(title_text="share", title_font_size=9)
    fig.update_layout(margin={"l": 60, "r": 20, "t": top})
    legend_below(fig, legend, axis_space=45)
    return Chart("histograms", "drift", "Share of AI scores per bin of width 0.02 for the groups "
                 "with the largest population stability index (PSI) this month; groups with a "
                 "PSI alert come first.", fig, height)  # fmt: skip


def spc_chart(report: MonthlyReport) -> Chart | None:
    spc = report.tables["positive_rate_spc"]
    if spc.empty:
        return None
    now = spc[(spc["month"] == report.month) & spc["z"].notna()]
    now = now.assign(absz=now["z"].abs()).sort_values(
        ["absz", "site", "finding"], ascending=[False, True, True], kind="stable"
    )
    chosen = now[["site", "finding"]].head(4)
    if chosen.empty:
        return None
    data = spc.merge(chosen, on=["site", "finding"])
    months = sorted(data["month"].unique())
    keys = list(chosen.itertuples(index=False, name=None))
    titles = []
    for site, finding in keys:
        n = int(data.loc[(data["site"] == site) & (data["finding"] == finding)
                         & (data["month"] == report.month), "n"].sum())  # fmt: skip
        titles.append(wrap_lines([str(site), f"{finding} (n = {n:,} in {report.month})"],
                                 HALF_PANEL))  # fmt: skip
    rows = (len(keys) + 1) // 2
    fig = make_subplots(rows=rows, cols=2, subplot_titles=titles, vertical_spacing=0.3)
    for i, (site, finding) in enumerate(keys):
        p = data[(data["site"] == site) & (data["finding"] == finding)]
        r, c = i // 2 + 1, i % 2 + 1
        for name, col, colour, dash in (
            ("positive rate", "proportion", OKABE_ITO[0], "solid"),
            ("reference rate", "center", "#555", "dot"),
            ("3-sigma limits", "ucl", OKABE_ITO[5], "dash"),
            ("3-sigma limits", "lcl", OKABE_ITO[5], "dash"),
        ):
            fig.add_trace(go.Scatter(
                x=p["month"], y=p[col], name=name, legendgroup=name,
                showlegend=i == 0 and col != "lcl", mode="lines+markers" if col == "proportion"
                else "lines", marker={"size": 4}, line={"color": colour, "dash": dash, "width": 1},
            ), row=r, col=c)  # fmt: skip
    legend = ["positive rate", "reference rate", "3-sigma limits"]
    top = _top_for_panel_titles(60, titles[:2])  # 2 lines: 72 px; 60 ran into the title
    height = top + 230 * rows - 50 + legend_space(legend, axis_space=TICKS_7PX)
    _layout(fig, "AI positive rate, p-chart: the four site x finding groups furthest from "
            "the reference", height)  # fmt: skip
    _month_axis(fig, months)
    fig.update_xaxes(tickfont={"size": 7}, tickvals=months[::-1][::3][::-1])  # every 3rd month
    fig.update_annotations(font_size=9)
    fig.update_layout(margin={"t": top})
    legend_below(fig, legend, axis_space=TICKS_7PX)
    return Chart("spc", "drift", "Share of studies the AI called positive per month, with the "
                 "reference rate and 3-sigma p-chart limits (Shewhart; limits depend on each "
                 "month's n).", fig, height)  # fmt: skip


def iter_charts(report: MonthlyReport) -> Iterator[Chart]:
    """Every chart of the report, in document order, each as soon as it is built.

    Empty tables give no chart. A generator, so that Chromium can draw the first charts while
    the later ones are still being built.
    """
    yield from (c for c in (volume_chart(report),) if c is not None)
    yield from trend_charts(report)
    yield from forest_charts(report)
    yield from (c for c in (histogram_chart(report), spc_chart(report)) if c is not None)


def build_charts(report: MonthlyReport) -> list[Chart]:
    """Every chart of the report, in document order."""
    return list(iter_charts(report))


# ------------------------------------------------------------------------------ SVG
def stable_svg(svg: str, index: int) -> str:
    """Replace plotly's random uid by ``c<index>`` and drop the XML declaration."""
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    match = _UID.search(svg)
    if match:
        svg = svg.replace(match.group(1), f"c{index:02d}")
    return svg


class SvgRenderer:
    """Plotly figures to SVG in one headless Chromium (kaleido 1.x), with several tabs.

    Chromium starts in a background thread when the renderer is entered, so its start-up
    (about 2 s) overlaps whatever the caller does next (the metrics queries of the report).
    :meth:`submit` sends every chart at once and returns futures; the tabs work through them
    in parallel while the caller formats tables and lays out the PDF. MathJax is off: kaleido
    would otherwise fetch it from a CDN, and the report loads nothing from the network.

    Use as ``with SvgRenderer() as r: svgs = r.render(charts)``.
    """

    def __init__(self, tabs: int = 2) -> None:
        self._tabs = tabs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="radqa-kaleido")  # fmt: skip
        self._kaleido: Future[Any] | None = None

    async def _open(self) -> Any:
        import kaleido  # noqa: PLC0415

        k = kaleido.Kaleido(n=self._tabs, mathjax=False)
        try:
            await k.open()
        except Exception as exc:  # choreographer's BrowserFailedError and the like
            # its own advice is to download a browser (choreo_get_chrome): not here
            raise RadQAError(
                "the report's charts could not be drawn: Chromium did not start "
                f"({first_line(exc)}). "
                "Check that /usr/bin/chromium runs (`make system` installs it) and that the "
                f"temporary folder ({os.environ.get('TMPDIR') or tempfile.gettempdir()}; TMPDIR) "
                "is a folder this user can write"
            ) from exc
        return k

    def __enter__(self) -> SvgRenderer:
        self._thread.start()
        self._kaleido = asyncio.run_coroutine_threadsafe(self._open(), self._loop)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._kaleido is not None and self._kaleido.exception() is None:
                k = self._kaleido.result()
                asyncio.run_coroutine_threadsafe(k.close(), self._loop).result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def submit(self, chart: Chart, index: int) -> Future[str]:
        """Start drawing ``chart``, the report's chart number ``index``; the future gives its
        SVG text with ids derived from ``index`` (the same report gives the same SVG)."""
        if self._kaleido is None:
            raise RuntimeError("SvgRenderer.submit called outside its 'with' block; expected "
                               "'with SvgRenderer() as r: r.submit(chart, index)'")  # fmt: skip
        for j, trace in enumerate(chart.figure.data):  # plotly's uids are random
            trace.uid = f"c{index:02d}t{j:03d}"
        return asyncio.run_coroutine_threadsafe(self._svg(chart, index), self._loop)

    def render(self, charts: Iterable[Chart]) -> list[str]:
        """The SVG text of each chart, in order."""
        futures = [self.submit(chart, i) for i, chart in enumerate(charts)]
        return [f.result() for f in futures]

    async def _svg(self, chart: Chart, index: int) -> str:
        k = await asyncio.wrap_future(self._kaleido)  # type: ignore[arg-type]
        opts = {"format": "svg", "width": WIDTH, "height": chart.height}
        raw = await k.calc_fig(chart.figure, opts=opts)
        return stable_svg(raw.decode("utf-8"), index)


def render_svgs(charts: list[Chart]) -> list[str]:
    """SVG text of each chart, rendered by one short-lived :class:`SvgRenderer`."""
    if not charts:
        return []
    with SvgRenderer() as renderer:
        return renderer.render(charts)
