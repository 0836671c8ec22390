"""Plotly figures and KPI formatting shared by the pages.

Colour-blind-safe Okabe-Ito palette (Okabe & Ito 2008); a site or scanner keeps its colour on
every page because colours are assigned over the full, unfiltered list of values. Months are
category axes (plotly would read '2026-08' as a date). Every figure states its n.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
GREY = "#BBBBBB"
#: Sequential single-hue scale for heatmaps: light enough for black cell text everywhere, and a
#: lightness ramp reads the same with every colour-vision deficiency.
SEQUENTIAL = [[0.0, "#f7fbff"], [0.5, "#9ecae1"], [1.0, "#4292c6"]]
#: Colour range per metric, so a colour means the same value on every page.
RANGES = {"auc": (0.5, 1.0), "kappa": (0.0, 1.0), "agreement": (0.0, 100.0)}

METRIC_LABELS = {
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "accuracy": "Accuracy",
    "auc": "AUC",
    "kappa": "Kappa (AI vs reference)",
    "agreement": "Agreement (AI vs reference)",
    "prevalence": "Prevalence",
}
PROPORTION_METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "prevalence")

#: Every figure's template. Set as plotly's default, which a figure takes on when it is built
#: (about 1 ms), instead of ``update_layout(template=...)``, which validates the whole template
#: again for each figure (about 10 ms, the larger part of drawing a chart from the cache).
TEMPLATE = "plotly_white"
pio.templates.default = TEMPLATE


def colour_map(values: Sequence[str]) -> dict[str, str]:
    """A stable colour per value: sorted, then the palette in order (cycling past 8)."""
    return {v: OKABE_ITO[i % len(OKABE_ITO)] for i, v in enumerate(sorted(set(values)))}


DASHES = ("solid", "dash", "dot", "dashdot")


def dash_map(values: Sequence[str]) -> dict[str, str]:
    """A line style per value that tells apart values whose colours repeat (past 8)."""
    n = len(OKABE_ITO)
    return {v: DASHES[(i // n) % len(DASHES)] for i, v in enumerate(sorted(set(values)))}


def fmt(value: float | None, metric: str = "") -> str:
    """A value as shown on a page: proportions as %, AUC and kappa with 3 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric in PROPORTION_METRICS:
        return f"{100 * value:.1f}%"
    return f"{value:.3f}"


def fmt_p(p: float) -> str:
    """A p-value as shown: three significant digits, and "< 0.001" below that."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def fmt_ci(low: float | None, high: float | None, metric: str = "") -> str:
    if low is None or high is None or any(math.isnan(x) for x in (low, high)):
        return "CI –"
    return f"95% CI {fmt(low, metric)} – {fmt(high, metric)}"


#: The characters of a line of a chart's title. At a 1280 x 800 window a chart is 820 px wide
#: and its 15 px title takes about 6.5 px a character (measured in Chromium: 126 characters of
#: the Sites heatmap's title took 816 px, and plotly cut it at the chart's edge, "grey:
#: insufficien"); 100 leave room. A longer title wraps after a "; ", else at a space.
TITLE_CHARS = 100
#: The top margin (px) of a chart: a title's first line, and each further line.
TOP_MARGIN, TITLE_LINE = 60, 20


def title_lines(title: str, chars: int = TITLE_CHARS) -> list[str]:
    """``title`` in lines of at most ``chars`` characters where it can: its clauses (up to
    each "; ") whole on a line, a clause longer than a line broken at spaces."""
    lines: list[str] = []
    for clause in re.split(r"(?<=; )", title):
        if lines and len(lines[-1]) + len(clause.rstrip()) <= chars:
            lines[-1] += clause
        else:
            lines += textwrap.wrap(clause, chars, break_long_words=False) or [""]
            lines[-1] += " " if clause.endswith(" ") else ""
    return [line.rstrip() for line in lines if line.strip()] or [title]


def layout(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    """The layout every figure shares: title on the left (in lines that fit the chart at a
    1280 px window), legend to the right."""
    lines = title_lines(title)
    fig.update_layout(
        title={"text": "<br>".join(lines), "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": TOP_MARGIN + TITLE_LINE * (len(lines) - 1), "b": 10},
        legend={"orientation": "v", "yanchor": "top", "y": 1, "x": 1.01, "xanchor": "left"},
        hoverlabel={"namelength": -1},
    )
    return fig


#: The share of a month's width left empty between the dodged series of a trend chart: the
#: rest (85%) holds the series side by side.
TREND_GAP = 0.15


def trend(
    df: pd.DataFrame,
    metric: str,
    *,
    series: str,
    colours: dict[str, str],
    targets: dict[str, float] | None = None,
    period: str = "month",
) -> go.Figure:
    """One line per ``series`` value over ``period`` with its CI as error bars; target lines.

    The series are dodged: within a month each series' point and CI bar sit side by side
    (``scattermode="group"``, one offset group per series, in the order of the legend), so the
    bars of several findings in one month do not cover each other. The hover text gives the
    month, the estimate, its 95% CI and the n."""
    fig = go.Figure()
    label = METRIC_LABELS.get(metric, metric)
    scale = 100.0 if metric in PROPORTION_METRICS else 1.0
    unit = "%" if scale == 100 else ""
    digits = 1 if scale == 100 else 3
    dashes = dash_map(list(colours))
    for name, part in df.groupby(series, sort=True):
        part = part.sort_values("period")
        y = part[metric] * scale
        low, high = part[f"{metric}_low"] * scale, part[f"{metric}_high"] * scale
        fig.add_trace(
            go.Scatter(
                x=part["period"],
                y=y,
                mode="lines+markers",
                name=str(name),
                line={
                    "color": colours.get(str(name), OKABE_ITO[0]),
                    "dash": dashes.get(str(name), "solid"),
                },
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (high - y).to_numpy(),
                    "arrayminus": (y - low).to_numpy(),
                    "thickness": 1,
                    "width": 2,  # caps narrower than the space between dodged series
                },
                offsetgroup=str(name),
                customdata=np.stack([part["n_labelled"], part["pending"], low, high], axis=-1),
                hovertemplate=(
                    f"%{{x}}: %{{y:.{digits}f}}{unit} (95% CI %{{customdata[2]:.{digits}f}}"
                    f"–%{{customdata[3]:.{digits}f}}{unit})"
                    "<br>labelled n = %{customdata[0]:,}, pending %{customdata[1]:,}<extra>"
                    + str(name)
                    + "</extra>"
                ),
            )
        )
    for name, value in (targets or {}).items():
        fig.add_hline(
            y=value * scale,
            line={"dash": "dash", "color": colours.get(name, "#000000"), "width": 1},
            annotation_text=f"claimed {fmt(value, metric)} ({name})",
            annotation_position="top left",
        )
    n = int(df["n_labelled"].sum())
    layout(fig, f"{label} by {period} (labelled n = {n:,}; bars: 95% CI)")
    fig.update_layout(scattermode="group", scattergap=TREND_GAP)
    fig.update_xaxes(type="category", title=f"Study {period}")
    fig.update_yaxes(title=label + (" (%)" if scale == 100 else ""))
    return fig


#: What the cases behind each metric's estimate are (its denominator), as a cell names them.
BASIS = {
    "sensitivity": "reference-positive",
    "specificity": "reference-negative",
    "ppv": "AI-positive",
    "npv": "AI-negative",
}


#: The size of a heatmap's cell text, in px. Unset, plotly shrinks the text to fit the cell:
#: about 6 px on a page 1400 px wide, which nobody can read.
CELL_FONT = 12
#: Up to this many columns a cell shows its estimate, 95% CI and n (up to 70 px of 12 px text,
#: "82.8–100.0"; a chart 940 px wide, as on a page 1400 px wide, gives each of 7 columns
#: 80 px); up to :data:`VALUE_COLUMNS` (35 px each), the estimate alone, rounded ("93%",
#: "0.91"); beyond, nothing. The hover text and the table have every figure.
FULL_COLUMNS = 7
VALUE_COLUMNS = 16


def _cell_ci(low: float, high: float, metric: str) -> str:
    """A CI as a cell shows it: "54.8–91.0" (percent) or "0.854–0.967", no unit, no spaces."""
    if any(math.isnan(x) for x in (low, high)):
        return "CI –"
    scale, digits = (100.0, 1) if metric in PROPORTION_METRICS else (1.0, 3)
    return f"{scale * low:.{digits}f}–{scale * high:.{digits}f}"


def heatmap_cells_caption(label: str, n_cols: int, what: str) -> str:
    """What a :func:`heatmap` cell shows with ``n_cols`` columns (of ``what``), in words."""
    if n_cols <= FULL_COLUMNS:
        return f"Each cell: {label}, its 95% CI and the number of cases it rests on."
    if n_cols <= VALUE_COLUMNS:
        return (
            f"Each cell: {label} ({n_cols} {what}: its 95% CI and number of cases are in the "
            "cell's hover text)."
        )
    return (
        f"{n_cols} {what}: too many to write in the cells; each cell's {label}, 95% CI and "
        "number of cases are in its hover text."
    )


def heatmap(
    df: pd.DataFrame, metric: str, *, rows: str, cols: str, basis: str | None = None
) -> go.Figure:
    """``metric`` by ``rows`` x ``cols``: each cell its value, 95% CI and the n it rests on
    (the column ``basis``, e.g. the reference-positive cases of a sensitivity; else the
    labelled cases); cells without an estimate grey, with the reason on hover.

    Cell text is :data:`CELL_FONT` px; with more than :data:`FULL_COLUMNS` columns a cell
    shows its estimate only, with more than :data:`VALUE_COLUMNS` nothing (all on hover)."""
    label = METRIC_LABELS.get(metric, metric)
    scale = 100.0 if metric in PROPORTION_METRICS else 1.0
    cells = (
        df.dropna(subset=[rows, cols])
        .assign(_r=lambda d: d[rows].astype(str), _c=lambda d: d[cols].astype(str))
        .drop_duplicates(["_r", "_c"])
    )
    r_vals, c_vals = sorted(cells["_r"].unique()), sorted(cells["_c"].unique())
    i = cells["_r"].map({v: k for k, v in enumerate(r_vals)}).to_numpy(dtype=int)
    j = cells["_c"].map({v: k for k, v in enumerate(c_vals)}).to_numpy(dtype=int)
    values = cells[metric].to_numpy(dtype=float)
    est = ~np.isnan(values)
    n_lab = cells["n_labelled"].to_numpy(dtype=int)
    n_basis = cells[basis].to_numpy(dtype=int) if basis else n_lab
    basis_name = BASIS.get(metric, "labelled") if basis else "labelled"
    reasons = cells.get("insufficient_reason", pd.Series(None, index=cells.index))
    # one text per cell of the small grouped result (the formatting is per cell, not per row)
    n_text = [
        f"labelled n = {n}, pending {p}"
        for n, p in zip(n_lab, cells["pending"].to_numpy(dtype=int), strict=True)
    ]
    shown = [fmt(v, metric) for v in values]
    lows, highs = cells[f"{metric}_low"], cells[f"{metric}_high"]
    ci = [fmt_ci(lo, hi, metric) for lo, hi in zip(lows, highs, strict=True)]
    shape = (len(r_vals), len(c_vals))
    z = np.full(shape, np.nan)
    grey = np.full(shape, np.nan)
    text = np.full(shape, "", dtype=object)
    hover = np.full(shape, "no studies", dtype=object)
    z[i[est], j[est]] = values[est] * scale
    grey[i[~est], j[~est]] = 0
    if len(c_vals) <= FULL_COLUMNS:
        cell = f"estimate, 95% CI, n of {basis_name} cases"
        text[i, j] = [
            f"{v}<br>{_cell_ci(lo, hi, metric)}<br>n = {n:,}"
            if ok
            else f"insufficient<br>n = {n:,}"
            for v, lo, hi, n, ok in zip(shown, lows, highs, n_basis, est, strict=True)
        ]
    elif len(c_vals) <= VALUE_COLUMNS:
        cell = "rounded estimate, 95% CI and n on hover"
        digits = 0 if metric in PROPORTION_METRICS else 2
        text[i, j] = [
            f"{v * scale:.{digits}f}{'%' if scale == 100 else ''}" if ok else "–"
            for v, ok in zip(values, est, strict=True)
        ]
    else:
        cell = "estimate, 95% CI and n on hover"  # no text: it would overlap
    # the n a cell rests on, when it is not the labelled cases (on hover in every case)
    basis_n = [f"n = {n:,} {basis_name}<br>" if basis else "" for n in n_basis]
    hover[i, j] = [
        f"{label} {v}<br>{c}<br>{b}{t}"
        if ok
        else f"insufficient data: {r if isinstance(r, str) and r else 'not estimable'}<br>{b}{t}"
        for v, c, b, t, r, ok in zip(shown, ci, basis_n, n_text, reasons, est, strict=True)
    ]
    zmin, zmax = RANGES.get(metric, (0.0, 100.0))
    cell_font = {"color": "#000000", "size": CELL_FONT}
    fig = go.Figure()
    fig.add_trace(  # insufficient-data cells: grey, with their own hover text
        go.Heatmap(
            z=grey,
            x=c_vals,
            y=r_vals,
            colorscale=[[0, GREY], [1, GREY]],
            showscale=False,
            text=np.where(np.isnan(grey), "", text),
            texttemplate="%{text}",
            textfont=cell_font,
            customdata=hover,
            hovertemplate="%{y} × %{x}<br>%{customdata}<extra></extra>",
            name="insufficient",
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=c_vals,
            y=r_vals,
            colorscale=SEQUENTIAL,
            zmin=zmin,
            zmax=zmax,
            text=np.where(np.isnan(z), "", text),
            texttemplate="%{text}",
            textfont=cell_font,
            customdata=hover,
            hovertemplate="%{y} × %{x}<br>%{customdata}<extra></extra>",
            colorbar={"title": {"text": label + (" (%)" if scale == 100 else "")}},
        )
    )
    n = int(df["n_labelled"].sum())
    slant = len(c_vals) > FULL_COLUMNS
    layout(
        fig,
        f"{label} by {rows.replace('_', ' ')} × {cols.replace('_', ' ')} "
        f"(labelled n = {n:,}; cells: {cell}; grey: insufficient data)",
        # slanted column labels take about 60 px more under the plot
        height=max(320, 70 * len(r_vals) + 160) + (60 if slant else 0),
    )
    fig.update_xaxes(
        type="category",
        title=cols.replace("_", " ").capitalize(),
        tickangle=-30 if slant else None,
    )
    fig.update_yaxes(
        type="category", title=rows.replace("_", " ").capitalize(), autorange="reversed"
    )
    return fig


def forest(
    groups: pd.DataFrame,
    metric: str,
    *,
    pooled: tuple[float, float, float] | None,
    title: str,
    colours: dict[str, str],
    axis_label: str | None = None,
    n_total: int | None = None,
    n_unit: str = "",
) -> go.Figure:
    """Estimates with CIs per group (``label value low high n``) and the pooled diamond.

    ``axis_label``: the x-axis title when the metric's usual label does not fit (reader vs
    reader kappa is not the AI's). The title ends with the plotted groups' n; ``n_total``
    (the n of every group, plotted or not) makes it "n = plotted of total ``n_unit``", so a
    plot that leaves out groups without an estimate does not pass for all of them."""
    label = axis_label or METRIC_LABELS.get(metric, metric)
    scale = 100.0 if metric in PROPORTION_METRICS else 1.0
    g = groups.iloc[::-1]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=g["value"] * scale,
            y=g["label"],
            mode="markers",
            marker={
                "color": [colours.get(str(v), OKABE_ITO[0]) for v in g["label"]],
                "size": 10,
                "symbol": "square",
            },
            error_x={
                "type": "data",
                "symmetric": False,
                "array": ((g["high"] - g["value"]) * scale).to_numpy(),
                "arrayminus": ((g["value"] - g["low"]) * scale).to_numpy(),
                "color": "#444444",
            },
            customdata=g[["n"]].to_numpy(),
            hovertemplate="%{y}: %{x:.1f}<br>n = %{customdata[0]}<extra></extra>",
            name="groups",
            showlegend=False,
        )
    )
    pooled_row = "pooled (random effects)"
    rows = [(str(lab), val, lo, hi) for lab, val, lo, hi in
            zip(g["label"], g["value"], g["low"], g["high"], strict=True)]  # fmt: skip
    if pooled is not None:
        v, lo, hi = (x * scale for x in pooled)
        # a diamond at the estimate, its CI as a thick bar: on a category axis a filled
        # polygon has no height (it was drawn as a flat line with no point)
        fig.add_trace(
            go.Scatter(
                x=[v],
                y=[pooled_row],
                mode="markers",
                marker={"color": "#000000", "size": 16, "symbol": "diamond"},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [hi - v],
                    "arrayminus": [v - lo],
                    "color": "#000000",
                    "thickness": 3,
                    "width": 0,
                },
                name=pooled_row,
                showlegend=False,
                hovertemplate=f"pooled {v:.1f} ({lo:.1f} – {hi:.1f})<extra></extra>",
            )
        )
        fig.add_vline(x=v, line={"dash": "dot", "color": "#000000", "width": 1})
        rows.append((pooled_row, *pooled))
    # each row's estimate and CI printed at the right, as a forest plot's table column
    for row, val, lo, hi in rows:
        fig.add_annotation(
            x=1.0, xref="paper", xanchor="left", xshift=8, y=row, yref="y", showarrow=False,
            text=f"{fmt(val, metric)} ({_cell_ci(lo, hi, metric)})", font={"size": 12},
        )  # fmt: skip
    n = int(groups["n"].sum())
    count = f"n = {n:,}" if n_total is None or n_total == n else f"n = {n:,} of {n_total:,}"
    count = f"{count} {n_unit}".rstrip()
    layout(fig, f"{title} ({count})", height=max(260, 34 * len(groups) + 170))
    fig.update_layout(margin={"r": FOREST_TEXT_MARGIN})
    fig.update_xaxes(title=label + (" (%)" if scale == 100 else ""))
    fig.update_yaxes(
        type="category", title=None, categoryorder="array",
        categoryarray=[pooled_row, *[str(v) for v in g["label"]]],
    )  # fmt: skip
    return fig


#: The right margin (px) of a forest plot: each row's "estimate (CI)" is printed there.
FOREST_TEXT_MARGIN = 150


def confusion(tp: int, fp: int, fn: int, tn: int, title: str) -> go.Figure:
    """The 2x2 table of AI output against the reference standard."""
    z = [[tp, fp], [fn, tn]]
    text = [[f"TP {tp:,}", f"FP {fp:,}"], [f"FN {fn:,}", f"TN {tn:,}"]]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=["reference positive", "reference negative"],
            y=["AI positive", "AI negative"],
            text=text,
            texttemplate="%{text}",
            textfont={"color": "#000000", "size": 14},
            colorscale=SEQUENTIAL,
            showscale=False,
            hovertemplate="%{y}, %{x}: %{z:,}<extra></extra>",
        )
    )
    layout(fig, f"{title} (n = {tp + fp + fn + tn:,})", height=320)
    fig.update_xaxes(type="category", side="top", title=None)
    fig.update_yaxes(type="category", autorange="reversed", title=None)
    return fig


def bars(
    df: pd.DataFrame, x: str, y: str, *, title: str, y_title: str, colour: str = OKABE_ITO[0]
) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=df[x].astype(str),
            y=df[y],
            marker_color=colour,
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    layout(fig, title, height=340)
    fig.update_xaxes(type="category", title=x.replace("_", " ").capitalize())
    fig.update_yaxes(title=y_title)
    return fig


def _monthly(fig: go.Figure, title: str, y_title: str) -> go.Figure:
    """The layout of a figure over study months (control charts, label completeness)."""
    layout(fig, title)
    fig.update_xaxes(type="category", title="Study month")
    fig.update_yaxes(title=y_title)
    return fig


#: Control-chart series as a clinician reads them.
SPC_LABELS = METRIC_LABELS | {"positive_rate": "Share of studies the AI calls positive"}

#: The colour of centre lines and control limits.
GUIDE = {"color": "#555555"}


def p_chart(part: pd.DataFrame) -> go.Figure:
    """One group's monthly proportion against its reference centre line and 3-sigma limits,
    signals marked (a row per month of ``metrics.monitor``'s control-chart table)."""
    month = part["month"]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=month,
            y=100 * part["proportion"],
            name="observed",
            mode="lines+markers",
            line={"color": OKABE_ITO[0]},
            customdata=part[["n"]].to_numpy(),
            hovertemplate="%{x}: %{y:.1f}% (n = %{customdata[0]})<extra></extra>",
        )
    )
    for col, name, dash in (
        ("center", "centre line (reference)", "dot"),
        ("lcl", "lower 3σ limit", "dash"),
        ("ucl", "upper 3σ limit", "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=month, y=100 * part[col], name=name, mode="lines", line={**GUIDE, "dash": dash}
            )
        )
    _signals(fig, part, "p_chart_signal", 100 * part["proportion"])
    metric = SPC_LABELS.get(str(part["metric"].iloc[0]), str(part["metric"].iloc[0]))
    return _monthly(fig, f"p-chart (n = {int(part['n'].sum()):,})", f"{metric} (%)")


def _signals(fig: go.Figure, part: pd.DataFrame, flag: str, y: pd.Series) -> None:
    """Mark the months where ``part[flag]`` is true on the series ``y`` (a legend entry even
    when there is none, so the chart says what a signal would look like)."""
    hit = part[flag].fillna(False).astype(bool).to_numpy()
    fig.add_trace(
        go.Scatter(
            x=part["month"][hit],
            y=y[hit],
            name="signal",
            mode="markers",
            marker={"color": OKABE_ITO[3], "size": 12, "symbol": "x"},
        )
    )


def _with_n(part: pd.DataFrame) -> dict[str, object]:
    """Hover text giving each month's value and n (the month's cases behind the point)."""
    return {
        "customdata": part[["n"]].to_numpy(),
        "hovertemplate": "%{x}: %{y:.2f} (n = %{customdata[0]})<extra></extra>",
    }


def cusum_chart(part: pd.DataFrame) -> go.Figure:
    """The tabular CUSUM of the standardised monthly deviations, upward and downward, with its
    decision interval h and the months that cross it marked."""
    fig = go.Figure()
    for col, name, colour in (
        ("cusum_pos", "CUSUM upward", OKABE_ITO[1]),
        ("cusum_neg", "CUSUM downward", OKABE_ITO[0]),
    ):
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=part[col],
                name=name,
                mode="lines+markers",
                line={"color": colour},
                **_with_n(part),
            )
        )
    h = float(part["cusum_h"].iloc[0])
    fig.add_trace(
        go.Scatter(
            x=part["month"],
            y=[h] * len(part),
            name=f"decision interval h = {h:g}",
            mode="lines",
            line={**GUIDE, "dash": "dash"},
        )
    )
    _signals(fig, part, "cusum_signal", part[["cusum_pos", "cusum_neg"]].max(axis=1))
    title = f"Tabular CUSUM of standardised deviations (n = {int(part['n'].sum()):,})"
    return _monthly(fig, title, "Cumulative sum (standard deviations)")


def ewma_chart(part: pd.DataFrame) -> go.Figure:
    """The EWMA of the standardised monthly deviations with its control limits, the months
    beyond them marked."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=part["month"],
            y=part["ewma"],
            name="EWMA",
            mode="lines+markers",
            line={"color": OKABE_ITO[2]},
            **_with_n(part),
        )
    )
    for sign in (1, -1):
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=sign * part["ewma_limit"],
                name="control limit" if sign == 1 else None,
                showlegend=sign == 1,
                mode="lines",
                line={**GUIDE, "dash": "dash"},
            )
        )
    _signals(fig, part, "ewma_signal", part["ewma"])
    title = f"EWMA of standardised deviations (n = {int(part['n'].sum()):,})"
    return _monthly(fig, title, "EWMA (standard deviations)")


def score_histogram(part: pd.DataFrame, month: str) -> go.Figure:
    """The AI score's distribution in the reference window and in ``month``, overlaid: one
    row per score bin (``metrics.monitor``'s histograms of one finding, site and scanner)."""
    x = ((part["bin_low"] + part["bin_high"]) / 2).to_numpy()
    width = float((part["bin_high"] - part["bin_low"]).median())
    fig = go.Figure()
    n_ref, n_mon = int(part["n_reference"].iloc[0]), int(part["n_month"].iloc[0])
    series = [
        ("reference_share", f"reference (n = {n_ref})"),
        ("month_share", f"{month} (n = {n_mon})"),
    ]
    for colour, (column, name) in zip(OKABE_ITO, series, strict=False):
        fig.add_trace(
            go.Bar(
                x=x,
                y=100 * part[column],
                name=name,
                marker_color=colour,
                opacity=0.75,
                width=width,
            )
        )
    layout(fig, f"AI score distribution (n = {n_ref:,} reference, {n_mon:,} in {month})")
    fig.update_layout(barmode="overlay", bargap=0.05)
    fig.update_xaxes(title="AI score", range=[0, 1], dtick=0.1)
    fig.update_yaxes(title="Share of predictions (%)")
    return fig


def completeness_lines(completeness: pd.DataFrame, all_findings: Sequence[str]) -> go.Figure:
    """Label completeness by month, one line per finding (``metrics.label_completeness`` by
    finding and month); colours and dashes keyed on every finding of the snapshot."""
    colours, dashes = colour_map(all_findings), dash_map(all_findings)
    fig = go.Figure()
    for finding in sorted(completeness["finding"].astype(str).unique()):
        part = completeness[completeness["finding"] == finding].sort_values("period")
        fig.add_trace(
            go.Scatter(
                x=part["period"],
                y=100 * part["completeness"],
                name=finding,
                mode="lines+markers",
                line={"color": colours.get(finding), "dash": dashes.get(finding, "solid")},
                customdata=part[["labelled", "n"]].to_numpy(),
                hovertemplate="%{x}: %{y:.1f}% (%{customdata[0]:,} of %{customdata[1]:,})"
                f"<extra>{finding}</extra>",
            )
        )
    title = f"Share of predictions with a reference read (n = {int(completeness['n'].sum()):,})"
    _monthly(fig, title, "Labelled (%)")
    fig.update_yaxes(range=[0, 105])
    return fig


def model_label(df: pd.DataFrame) -> pd.Series:
    """ "<model> <version>" per row (``model_name``, ``model_version``): "CT-Lung 3.1"."""
    return df["model_name"].astype(str) + " " + df["model_version"].astype(str)


def estimated_vs_realised(
    part: pd.DataFrame, metric: str, n_pending: float | None = None
) -> go.Figure:
    """Per site, finding and AI model (with its version): the estimate for pending predictions
    with its 95% CI beside the realised value of those already read with its own 95% CI.

    ``part``: ``metrics.estimated_vs_realised`` rows of ``metric`` (``realised_low`` /
    ``realised_high`` are the realised value's interval, ``n_estimated`` the pending predictions
    each estimate rests on). The title counts the plotted rows' pending predictions, "of
    ``n_pending``" (every pending prediction under the filters) where that is more, so a chart
    that leaves out rows without an estimate does not pass for all of them. The two markers of
    a row sit side by side, so neither interval hides the other."""
    part = part.assign(
        label=part["site"].astype(str)
        + " · "
        + part["finding"].astype(str)
        + " · "
        + model_label(part)
    ).sort_values("label")
    plotted = int(round(float(part["n_estimated"].sum())))
    total = plotted if n_pending is None else int(round(n_pending))
    count = f"{plotted:,}" if total == plotted else f"{plotted:,} of {total:,}"
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=100 * part["estimate"],
            y=part["label"],
            mode="markers",
            name="estimated (pending)",
            marker={"color": OKABE_ITO[0], "size": 9},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (100 * (part["high"] - part["estimate"])).to_numpy(),
                "arrayminus": (100 * (part["estimate"] - part["low"])).to_numpy(),
            },
        )
    )
    fig.add_trace(
        go.Scatter(
            x=100 * part["realised"],
            y=part["label"],
            mode="markers",
            name="realised (read)",
            marker={"color": OKABE_ITO[3], "size": 10, "symbol": "diamond"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (100 * (part["realised_high"] - part["realised"])).to_numpy(),
                "arrayminus": (100 * (part["realised"] - part["realised_low"])).to_numpy(),
            },
        )
    )
    layout(
        fig,
        f"{METRIC_LABELS[metric]}: estimate for {count} pending predictions vs realised "
        "(bars: 95% CI)",
        height=max(300, 34 * len(part) + 160),
    )
    # the estimate and the realised value of a row one above the other, not on one line
    fig.update_traces(orientation="h")
    fig.update_layout(scattermode="group", scattergap=0.4)
    fig.update_xaxes(title=f"{METRIC_LABELS[metric]} (%)")
    fig.update_yaxes(type="category", autorange="reversed", title=None)
    return fig
