"""Overview: open alerts, KPI tiles per model and finding, vendor claims, trends over time."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import _charts, _state
from dashboard._alerts import show_report_alerts
from dashboard._columns import percent, shares_rounded
from dashboard._context import page_context
from dashboard._defaults import OVERVIEW_BY, TREND_PERIODS, models_by_data
from dashboard._filters import describe
from dashboard._tabs import lazy_tabs
from dashboard._tiles import Tile, TileGroup, show_tiles
from radqa.errors import ConfigError, RadQAError

KPIS = ("sensitivity", "specificity", "ppv", "npv", "auc", "kappa")

ctx = page_context("Overview")
snap, filters = ctx.snap, ctx.filters
assert snap is not None
show_report_alerts(snap)

summary = _state.summarize(snap, filters, by=OVERVIEW_BY)
if summary.empty:
    st.info("No predictions match the current filters; widen the date range or clear a filter.")
    st.stop()

try:
    claims, claims_problem = _state.settings().claims, ""
except ConfigError as exc:  # a broken radqa.toml: said in its one line; the rest still shows
    claims, claims_problem = {}, str(exc)
    st.error(claims_problem)
_MIN_N = int(summary.attrs.get("min_n", 30))


def _method_key(metric: str) -> str:
    """The key of ``metric``'s interval method in ``summarize``'s ``attrs["methods"]``."""
    return metric if metric in ("auc", "kappa", "agreement") else "proportions"


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
                help=f"{_charts.METRIC_LABELS[metric]}; method: "
                + methods.get(_method_key(metric), ""),
            )
            for metric in KPIS
        ),
    )


show_tiles([tile_group(row) for _, row in summary.iterrows()])
METHODS = summary.attrs.get("methods", {})


def ci_methods() -> str:
    """The interval method of every estimate on this page, as one visible line."""
    return (
        f"95% CI: sensitivity, specificity, PPV, NPV, accuracy: {METHODS.get('proportions', '')}"
        f"; AUC: {METHODS.get('auc', '')}; kappa: {METHODS.get('kappa', '')}."
    )


def claim_ci_methods(metrics_shown: list[str]) -> str:
    """The interval method of each claimed metric in the claims table, as one visible line:
    percent agreement has its own (Gwet's SE), not the Wilson interval of accuracy."""
    return (
        "95% CI: "
        + "; ".join(f"{m}: {METHODS.get(_method_key(m), '')}" for m in dict.fromkeys(metrics_shown))
        + "."
    )


st.caption(ci_methods())

models = models_by_data(summary)
all_findings = _state.filter_options(snap).of("finding")
# the trend's choices live inside a lazy tab: keep them while another tab is open
for key in ("ov_model", "ov_metric", "ov_period"):
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]


def with_model(model: str) -> _state.Filters:
    """The sidebar's filters narrowed to one model."""
    return replace(filters, model_name=(model,))


def claim_banner(model: str, name: str, part: pd.DataFrame) -> None:
    """One claim's verdict over its findings: how many could be tested, how many fell below.

    A finding without enough labelled cases has no verdict; when no finding could be tested
    the claim is neither contradicted nor supported, and the banner says so in neutral terms.
    """
    as_metric = "accuracy" if name == "agreement" else name  # agreement is a proportion too
    claimed = f"{model}: claimed {name} {_charts.fmt(float(part['claimed'].iloc[0]), as_metric)}"
    tested = part[part["verdict"] != "insufficient data"]
    untested = len(part) - len(tested)
    if tested.empty:
        st.info(
            f"{claimed}: not enough labelled data to check the claim under these filters "
            f"(none of {len(part)} finding(s) has enough labelled cases; at least "
            f"{_MIN_N} are needed per finding)."
        )
        return
    n_below = int((tested["verdict"] == "below claim").sum())
    het = ""
    if pd.notna(part["i2"].iloc[0]):
        het = (
            f"; across findings I² = {100 * part['i2'].iloc[0]:.0f}%, Cochran Q "
            f"{_charts.fmt_p(part['q_p_value'].iloc[0])}"
        )
    skipped = f"; {untested} finding(s) not tested (not enough labelled data)" if untested else ""
    verdict = "contradicted" if n_below else "not contradicted"
    text = (
        f"{claimed}: claim {verdict}: {n_below} of {len(tested)} tested finding(s) below the "
        f"claim (95% CI wholly below){skipped}{het}."
    )
    (st.error if n_below else st.success)(text)


#: The claims table as the committee reads it: words, and percentages like the tiles. The claim,
#: the local estimate, its 95% CI and the verdict come first, in widths that add up to at most
#: the table's 818 px at a 1280 x 800 window (_columns.TABLE_WIDTH_1280); the number of labelled
#: cases and the CI method (also named in the caption under the table) follow.
CLAIM_COLUMNS = {
    "model_name": st.column_config.TextColumn("Model", width=105, pinned=True),
    "finding": st.column_config.TextColumn("Finding", width=118, pinned=True),
    "metric": st.column_config.TextColumn("Metric", width=82, help="The claimed metric"),
    "claimed": percent("Claimed", width=66, help="The vendor's published figure"),
    "estimate": percent(
        "Estimate",
        width=70,
        help="Local estimate: the metric on this hospital's labelled cases",
    ),
    "low": percent("CI low", width=62, help="95% CI of the local estimate, lower end"),
    "high": percent("CI high", width=62, help="95% CI of the local estimate, upper end"),
    "verdict": st.column_config.TextColumn(
        "Verdict",
        width=142,
        help="below claim: the 95% CI lies wholly below the claimed figure; consistent with "
        "claim: it does not; insufficient data: too few labelled cases to test the claim",
    ),
    "above_claim": st.column_config.CheckboxColumn(
        "Above claim",
        help="The 95% CI lies wholly above the claimed figure",
        width=89,
    ),
    "n_labelled": st.column_config.NumberColumn("Labelled cases", format="localized", width=105),
    "ci_method": st.column_config.TextColumn(
        "CI method", help="How this row's 95% CI is computed", width="large"
    ),
}

#: The claims table's column order: the columns of CLAIM_COLUMNS, in its order.
CLAIM_ORDER = list(CLAIM_COLUMNS)


def show_claims() -> None:
    """Every configured vendor claim checked against the data of its model, per finding."""
    configured = {m: claims[m] for m in models if claims.get(m)}
    if claims_problem:
        st.caption("Vendor claims are checked here once radqa.toml is fixed (see above).")
        return
    with_claims = sorted(m for m, figures in claims.items() if figures)
    if not configured and with_claims:  # configured, but for models the filters leave out
        has = "has" if len(with_claims) == 1 else "have"
        st.caption(
            f"No vendor claim for the models under the current filters ({describe(filters)}): "
            f"{', '.join(sorted(models))}. Claims are configured in radqa.toml for "
            f"{', '.join(with_claims)}, which {has} no prediction under these filters; widen or "
            "clear the filters to check them."
            if filters.active()
            else f"No vendor claim for the models in this snapshot ({', '.join(sorted(models))}). "
            f"Claims are configured in radqa.toml for {', '.join(with_claims)}, which {has} no "
            'prediction here: check the model name in the [claims."..."] table.'
        )
        return
    if not configured:
        st.caption(
            "No vendor claims configured. Add a model's published figures to radqa.toml in the "
            'data dir, e.g. [claims."ChestXR-Triage"] accuracy = 0.974, and they are checked '
            "here, per finding, against the local data."
        )
        return
    try:
        checks = pd.concat(
            [
                _state.call(
                    "claim_check",
                    snap,
                    metric=name,
                    claimed=float(value),
                    by=("finding",),
                    filters=with_model(model),
                ).assign(model_name=model)
                for model, model_claims in configured.items()
                for name, value in model_claims.items()
            ],
            ignore_index=True,
        )
    except RadQAError as exc:
        st.warning(f"Claim check not possible: {exc}")
        return
    for (model, name), part in checks.groupby(["model_name", "metric"], sort=False):
        claim_banner(str(model), str(name), part)
    checks["ci_method"] = [METHODS.get(_method_key(str(m)), "") for m in checks["metric"]]
    st.dataframe(
        shares_rounded(checks[[c for c in CLAIM_ORDER if c in checks.columns]], CLAIM_COLUMNS),
        hide_index=True,
        width="stretch",
        column_config=CLAIM_COLUMNS,
    )
    st.caption(claim_ci_methods([str(m) for m in checks["metric"]]))


def show_trend() -> None:
    """One model's metric per month (or quarter) and finding, its claim as a target line."""
    left, right, third = st.columns([2, 2, 1])
    model = left.selectbox("Model", models, key="ov_model")
    metric = right.selectbox(
        "Metric",
        list(_charts.METRIC_LABELS),
        key="ov_metric",
        format_func=lambda m: _charts.METRIC_LABELS[m],
    )
    period = third.radio("Period", list(TREND_PERIODS), key="ov_period", horizontal=True)
    by_period = _state.summarize(snap, with_model(model), by=OVERVIEW_BY, period=period)
    if by_period.empty or by_period[metric].isna().all():
        st.info(
            f"No {period} has enough labelled cases of {model} for {metric} under these "
            f"filters (at least {summary.attrs.get('min_n', 30)} labelled cases are needed "
            f"per {period}, and {summary.attrs.get('min_class', 5)} reference-positive cases "
            "for sensitivity, reference-negative for specificity, of each for AUC and kappa)."
        )
        return
    model_claims = {k: float(v) for k, v in claims.get(model, {}).items()}
    targets = {model: model_claims[metric]} if metric in model_claims else None
    st.plotly_chart(
        _charts.trend(
            by_period,
            metric,
            series="finding",
            colours=_charts.colour_map(list(all_findings)),
            targets=targets,
            period=period,
        ),
        width="stretch",
        key="ov_trend",
    )
    st.caption(ci_methods())


# the claims come first: they are the committee's question, and a first page without a plotly
# chart spares the browser loading plotly.js (about 1.2 s on a cold start here)
lazy_tabs("ov_tab", {"Vendor claims": show_claims, "Trend": show_trend})
