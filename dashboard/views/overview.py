"""Overview: KPI tiles per model and finding, monthly trends, vendor claims, open alerts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import _charts, _state
from dashboard._alerts import show_report_alerts
from dashboard._context import page_context
from dashboard._defaults import OVERVIEW_BY, TREND_PERIODS
from dashboard._tiles import Tile, TileGroup, show_tiles
from radqa.errors import RadQAError

KPIS = ("sensitivity", "specificity", "ppv", "npv", "auc", "kappa")

ctx = page_context("Overview")
snap, filters = ctx.snap, ctx.filters
assert snap is not None
show_report_alerts(snap)

summary = _state.summarize(snap, filters, by=OVERVIEW_BY)
if summary.empty:
    st.info("No predictions match the current filters; widen the date range or clear a filter.")
    st.stop()

claims = _state.settings().claims


def _method_key(metric: str) -> str:
    return metric if metric in ("auc", "kappa") else "proportions"


def tile_group(row: pd.Series) -> TileGroup:
    methods = summary.attrs.get("methods", {})
    return TileGroup(
        title=f"{row['model_name']} · {row['finding']}",
        caption=(
            f"{int(row['n']):,} predictions, {int(row['n_labelled']):,} with a reference read, "
            f"{int(row['pending']):,} pending · AI vs reference standard"
            + (f" · insufficient data: {row['insufficient_reason']}" if row["insufficient"] else "")
        ),
        tiles=tuple(
            Tile(
                label=_charts.METRIC_LABELS[metric].replace(" (AI vs reference)", ""),
                value=_charts.fmt(row[metric], metric),
                ci=_charts.fmt_ci(row[f"{metric}_low"], row[f"{metric}_high"], metric),
                help=f"{_charts.METRIC_LABELS[metric]}; method: {methods.get(_method_key(metric), '')}",
            )
            for metric in KPIS
        ),
    )


show_tiles([tile_group(row) for _, row in summary.iterrows()])

st.divider()
models = sorted(summary["model_name"].astype(str).unique())
left, right, third = st.columns([2, 2, 1])
model = left.selectbox("Model", models, key="ov_model")
metric = right.selectbox(
    "Metric (trend)",
    list(_charts.METRIC_LABELS),
    key="ov_metric",
    format_func=lambda m: _charts.METRIC_LABELS[m],
)
period = third.radio("Period (trend)", list(TREND_PERIODS), key="ov_period", horizontal=True)
model_filters = _state.Filters(
    **{**{k: getattr(filters, k) for k in filters.__dataclass_fields__}, "model_name": (model,)}
)
model_claims = {k: float(v) for k, v in claims.get(model, {}).items()}


def show_trend() -> None:
    by_month = _state.summarize(snap, model_filters, by=OVERVIEW_BY, period=period)
    if by_month.empty or by_month[metric].isna().all():
        st.info(
            f"No {period} has enough labelled cases of {model} for {metric} under these "
            f"filters (at least {summary.attrs.get('min_n', 30)} labelled cases are needed "
            f"per {period}, with both reference-positive and -negative cases for "
            "sensitivity, specificity, AUC and kappa)."
        )
    else:
        all_findings = _state.filter_options(snap).of("finding")
        colours = _charts.colour_map(list(all_findings))
        targets = {model: model_claims[metric]} if metric in model_claims else None
        st.plotly_chart(
            _charts.trend(
                by_month,
                metric,
                series="finding",
                colours=colours,
                targets=targets,
                period=period,
            ),
            width="stretch",
            key="ov_trend",
        )


def show_claims() -> None:
    if not model_claims:
        st.caption(f'No claimed figures configured for {model} ([claims."{model}"] in radqa.toml).')
    else:
        try:
            checks = [
                _state.call(
                    "claim_check",
                    snap,
                    metric=name,
                    claimed=value,
                    by=("finding",),
                    filters=model_filters,
                )
                for name, value in model_claims.items()
            ]
            check = pd.concat(checks, ignore_index=True) if checks else None
        except RadQAError as exc:
            check = None
            st.warning(f"Claim check not possible: {exc}")
        if check is not None:
            for name, part in check.groupby("metric", sort=False):
                claimed_value = float(part["claimed"].iloc[0])
                n_below = int((part["verdict"] == "below claim").sum())
                het = ""
                if pd.notna(part["i2"].iloc[0]):
                    het = (
                        f"; across findings I² = {100 * part['i2'].iloc[0]:.0f}%, Cochran Q "
                        f"p = {part['q_p_value'].iloc[0]:.3g}"
                    )
                text = (
                    f"Claimed {name} {_charts.fmt(claimed_value, 'accuracy')}: "
                    f"{n_below} of {len(part)} finding(s) below the claim (95% CI wholly "
                    f"below){het}."
                )
                (st.error if n_below else st.success)(text)
            cols = [
                "metric",
                "claimed",
                "finding",
                "n_labelled",
                "estimate",
                "low",
                "high",
                "verdict",
                "above_claim",
            ]
            st.dataframe(
                check[[c for c in cols if c in check.columns]], hide_index=True, width="stretch"
            )


# lazy tabs: only the open one is computed and drawn (a plotly chart costs the browser ~0.2 s)
trend_tab, claims_tab = st.tabs(["Trend", "Vendor claims"], key="ov_tab", on_change="rerun")
if trend_tab.open:
    with trend_tab:
        show_trend()
if claims_tab.open:
    with claims_tab:
        show_claims()
