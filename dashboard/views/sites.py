"""Sites & scanners: heatmap of a metric by site x scanner model, forest plots with I^2, table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import _charts, _state
from dashboard._columns import column_config, shares_rounded
from dashboard._context import page_context
from dashboard._downloads import csv_download
from dashboard._filters import model_finding_picker
from dashboard._heterogeneity import i2_caption
from dashboard._tabs import lazy_tabs
from radqa.errors import RadQAError

METRICS = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "auc", "kappa")

ctx = page_context("Sites & scanners")
snap = ctx.snap
assert snap is not None
left, right = st.columns(2)
with left:
    filters = model_finding_picker(snap, ctx.filters, key="ss_pair")
metric = right.selectbox(
    "Metric", METRICS, key="ss_metric", format_func=lambda m: _charts.METRIC_LABELS[m]
)
if filters is None:
    st.info(
        "No model · finding has predictions under the current filters; widen the date range "
        "or clear a filter."
    )
    st.stop()

grid = _state.summarize(snap, filters, by=("site", "scanner_model"))
if grid.empty:
    st.info("No predictions of this model and finding match the current filters.")
    st.stop()
DIMS = {"site": "Sites", "scanner_model": "Scanner models"}


def _method(name: str) -> str:
    """The interval method of a summarize estimate, as metrics names it."""
    methods = grid.attrs.get("methods", {})
    key = name if name in ("auc", "kappa", "agreement") else "proportions"
    return str(methods.get(key, ""))


def forest_input(summary: pd.DataFrame, label: str) -> pd.DataFrame:
    """Rows with an estimate, shaped for the forest plot (label, value, low, high, n)."""
    ok = summary[summary[metric].notna()].copy()
    ok["label"] = ok[label].astype(str)
    ok["value"] = ok[metric]
    ok["low"], ok["high"] = ok[f"{metric}_low"], ok[f"{metric}_high"]
    ok["n"] = _state.metric_fn("group_denominators")(ok, metric)
    return ok


def pooled_and_i2(ok: pd.DataFrame, dim: str) -> tuple[tuple[float, float, float] | None, str]:
    """The random-effects pooled value and the I² line under the forest plot."""
    try:
        h = _state.metric_fn("heterogeneity_across")(ok, [dim], metric)
    except RadQAError as exc:
        return None, f"heterogeneity not computable: {exc}"
    if h is None:
        return None, "I² needs at least two groups with an estimate"
    pooled = h.random_reml
    return (pooled.value, pooled.low, pooled.high), i2_caption(h)


def show_forest(dim: str) -> None:
    """The forest plot of ``metric`` across the values of ``dim``, with I² and the pooled value."""
    summary = _state.summarize(snap, filters, by=(dim,))
    ok = forest_input(summary, dim)
    dropped = len(summary) - len(ok)
    st.subheader(f"{DIMS[dim]}: {_charts.METRIC_LABELS[metric]}")
    if ok.empty:
        st.info(
            f"No {dim.replace('_', ' ')} has enough labelled cases for "
            f"{_charts.METRIC_LABELS[metric]} under these filters."
        )
        return
    pooled, text = pooled_and_i2(ok, dim)
    colours = _charts.colour_map(list(_state.filter_options(snap).of(dim)))
    st.plotly_chart(
        _charts.forest(
            ok,
            metric,
            pooled=pooled,
            title=f"{_charts.METRIC_LABELS[metric]} by {dim.replace('_', ' ')}",
            colours=colours,
        ),
        width="stretch",
        key=f"ss_forest_{dim}",
    )
    st.caption(text + (f" · {dropped} group(s) without an estimate left out" if dropped else ""))


#: Column labels of the site x scanner table (the CSV keeps the raw names).
LABELS = {
    "site": "Site",
    "scanner_model": "Scanner model",
    "n": "Predictions",
    "pending": "Awaiting a read",
    "n_labelled": "Labelled cases",
    "tp": "True positives",
    "fp": "False positives",
    "fn": "False negatives",
    "tn": "True negatives",
    "insufficient": "Insufficient data",
    "insufficient_reason": "Why insufficient",
    "not_estimable": "Not estimable",
}


def table_columns(columns: list[str], chosen: str) -> list[str]:
    """The table's columns in reading order: the groups, the chosen metric with its CI, the
    counts it rests on, then the other metrics (each with its CI) and the rest. In the
    summary's own order the chosen metric sat past the 2x2 counts, off a 1400 px page."""
    groups = [c for c in ("site", "scanner_model") if c in columns]
    first = [c for c in (chosen, f"{chosen}_low", f"{chosen}_high") if c in columns]
    counts = [c for c in ("n", "pending", "n_labelled") if c in columns]
    others = [
        c for m in METRICS if m != chosen for c in (m, f"{m}_low", f"{m}_high") if c in columns
    ]
    head = groups + first + counts + others
    return head + [c for c in columns if c not in head and not c.endswith("_se")]


def show_table() -> None:
    st.subheader("Table: site × scanner model")
    table = grid[table_columns(list(grid.columns), metric)]
    config = column_config(table, LABELS)
    for group in ("site", "scanner_model"):  # kept in view while the table scrolls sideways
        config[group] = st.column_config.TextColumn(LABELS[group], pinned=True)
    st.dataframe(
        shares_rounded(table, config), hide_index=True, width="stretch", column_config=config
    )
    methods = grid.attrs.get("methods", {})
    st.caption(
        f"95% CI: proportions: {methods.get('proportions', '')}; AUC: {methods.get('auc', '')}"
        f"; kappa: {methods.get('kappa', '')}; agreement: {methods.get('agreement', '')}."
    )
    csv_download(ctx, table, "sites-scanners", filters=filters, metric=metric)


def show_heatmap() -> None:
    cells = grid.assign(n_basis=_state.metric_fn("group_denominators")(grid, metric))
    st.plotly_chart(
        _charts.heatmap(cells, metric, rows="site", cols="scanner_model", basis="n_basis"),
        width="stretch",
        key="ss_heatmap",
    )
    n_cols = cells.dropna(subset=["site", "scanner_model"])["scanner_model"].astype(str).nunique()
    shown = _charts.heatmap_cells_caption(_charts.METRIC_LABELS[metric], n_cols, "scanner models")
    st.caption(
        f"{shown} 95% CI: {_method(metric)}. Grey: not enough data; "
        f"{grid.attrs.get('methods', {}).get('minimum', '')}."
    )


lazy_tabs(
    "ss_tab",
    {
        "Heatmap": show_heatmap,
        "Forest plot: sites": lambda: show_forest("site"),
        "Forest plot: scanner models": lambda: show_forest("scanner_model"),
        "Table": show_table,
    },
)
