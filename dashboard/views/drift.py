"""Drift: alerts with evidence, score distributions, control charts, new categories, completeness.

Everything comes from one ``metrics.monitor`` run for the chosen month against the reference
window (the first months of data), the same call the monthly report makes.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import _alerts, _charts, _state
from dashboard._columns import WRAP_ROW_HEIGHT, fits, rows_holding
from dashboard._context import page_context
from dashboard._downloads import csv_download
from dashboard._tabs import lazy_tabs
from metrics import new_category_subject
from metrics._spc import CUSUM_H, CUSUM_K, EWMA_L, EWMA_LAMBDA
from radqa.errors import RadQAError

ctx = page_context("Drift")
snap = ctx.snap
assert snap is not None
months = _alerts.months(snap)
left, right = st.columns([2, 1])
month = left.selectbox("Month monitored", months[::-1], key="dr_month")
try:
    configured = _alerts.configured_reference(snap)
except RadQAError as exc:
    st.error(str(exc))
    st.stop()
reference = configured
if reference is None:  # alert_rules.toml sets none: the user picks the first months of data
    reference = _alerts.reference_window(
        int(
            right.number_input(
                "Reference: first months of data",
                1,
                24,
                _alerts.DEFAULT_REFERENCE_MONTHS,
                key="dr_ref",
            )
        )
    )
#: The sidebar filters that narrow the monitor's tables (to the site x scanner x finding groups
#: with predictions that match them). The study date and the model version do not: the month and
#: the reference window set the dates, and the monitor's groups pool the model versions.
GROUP_FILTERS = ("site", "scanner_manufacturer", "scanner_model", "modality", "finding")
group_filters = _state.Filters(**{f: getattr(ctx.filters, f) for f in GROUP_FILTERS})
applied = [f.replace("_", " ") for f in GROUP_FILTERS if getattr(ctx.filters, f)]
ignored = [
    label
    for label, on in (
        ("study date", ctx.filters.date_from or ctx.filters.date_to),
        ("model version", ctx.filters.model_version),
    )
    if on
]
st.caption(
    "The alert rules run over every site, scanner and finding, whatever the filters. "
    "Site, scanner manufacturer, scanner model, modality and finding narrow the other tabs; "
    "the study date and model version do not (the month monitored and the reference window "
    "set the dates, and each group pools the model versions), except on Label completeness, "
    "where every filter applies, and on Estimated vs realised, where every filter but the "
    "study date applies (its rows are per AI model and version)."
    + (f" Applied here: {', '.join(applied)}." if applied else "")
    + (f" Not applied here: {', '.join(ignored)}." if ignored else "")
)

result, why = _alerts.run_monitor(snap, month, reference)
if result is None:
    st.info(f"The drift check for {month} could not run: {why}")
    st.stop()
ref = result.reference
st.caption(
    f"Reference window {ref.first} to {ref.last}"
    + (f", model version {ref.model_version}" if ref.model_version else "")
    + (f" ({_state.metric_fn('REFERENCE_SET')})" if configured is not None else "")
    + (f". {ref.note}" if ref.note else "")
)
if not result.monitored_months:
    st.info(
        f"{month} lies inside the reference window ({ref.first} to {ref.last}); choose a "
        "later month or a shorter reference."
    )
    st.stop()


def narrow(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the rows of a monitor table whose site, scanner model and finding have predictions
    under the sidebar's group filters (:data:`GROUP_FILTERS`)."""
    if not applied or df.empty:
        return df
    groups = _state.call(
        "label_completeness",
        snap,
        by=("site", "scanner_model", "finding", "model_name"),
        filters=group_filters,
    )
    df = df.copy()
    if "category" in df.columns and "metric" in df.columns and "scanner_model" in df.columns:
        # a new scanner model's row names the scanner in its category
        new_scanner = df["metric"] == "scanner_model"
        df.loc[new_scanner, "scanner_model"] = df.loc[new_scanner, "category"]
    keys = [c for c in ("site", "scanner_model", "finding", "model_name") if c in df.columns]
    keep = pd.Series(True, index=df.index)
    for key in keys:  # a row without a value in a key column (a new scanner has no finding)
        allowed = set(groups[key].astype(str))
        keep &= df[key].isna() | df[key].astype(str).isin(allowed)
    if len(keys) > 1:  # and the combination must exist, on the keys the row has
        known = df[keys].notna().all(axis=1)
        combos = set(map(tuple, groups[keys].astype(str).to_numpy().tolist()))
        rows = map(tuple, df[keys].astype(str).to_numpy().tolist())
        keep &= ~known | pd.Series([r in combos for r in rows], index=df.index)
    return df[keep]


def pick(
    df: pd.DataFrame, columns: tuple[str, ...], key: str, weight: str | None = None
) -> pd.DataFrame:
    """One selectbox per column, each narrowing the next; options in alphabetical order. With
    ``weight`` (a count column) each box starts on the option with the most of it, not the
    alphabetically first (a group of 14 studies spread over 50 score bins, say)."""
    cols = st.columns(len(columns))
    for col, name in zip(cols, columns, strict=True):
        values = sorted(df[name].dropna().astype(str).unique())
        if not values:
            return df.iloc[0:0]
        index = 0
        if weight is not None and name != "metric":  # metrics' n are not comparable
            sizes = df.groupby(df[name].astype(str))[weight].sum()
            index = values.index(str(sizes.idxmax()))
        words = _charts.SPC_LABELS if name == "metric" else {}
        chosen = col.selectbox(
            name.replace("_", " ").capitalize(),
            values,
            index=index,
            key=f"{key}_{name}",
            format_func=lambda v, words=words: words.get(v, v),  # type: ignore[misc]
        )
        df = df[df[name].astype(str) == chosen]
    return df


def score_rule_caption(part: pd.DataFrame) -> str:
    """The score-distribution rules' verdicts on the group a histogram shows, this month."""
    group = {c: str(part[c].iloc[0]) for c in ("site", "scanner_model", "finding")}
    res = result.results
    rows = res[(res["metric"] == "score") & (res["month"] == month)]
    for c, v in group.items():
        if c in rows.columns:
            rows = rows[rows[c].astype(str) == v]
    said = [
        f"{r['rule']}: {r['value']:.3f} against a threshold of {r['threshold']:g} "
        f"(n = {int(r['n']):,}; {r['status']})"
        for r in rows.to_dict("records")
        if pd.notna(r["value"])
    ]
    return "; ".join(said) + "." if said else "No score-distribution rule judged this group."


def show_alerts() -> None:
    st.subheader(f"Alerts for {month}")
    alerts = _alerts.alerts_frame(result)
    if alerts.empty:
        st.success(f"No drift alert for {month}.")
    else:
        _alerts.show_alert_list(list(alerts["rule"]), _alerts.alert_sentences(result, month))
        with st.expander("The alerts as a table: values, thresholds and evidence"):
            # in the monthly report's words; the CSV keeps the raw names and values
            st.dataframe(
                _alerts.alerts_table(result),
                hide_index=True,
                width="stretch",
                row_height=WRAP_ROW_HEIGHT,
                column_config=_alerts.ALERT_COLUMNS,
            )
            csv_download(ctx, alerts, f"drift-alerts-{month}")


def show_histograms() -> None:
    st.subheader("Score distribution: reference vs month")
    hist = narrow(result.histograms)
    if hist.empty:
        st.info(f"No scores to compare for {month} under these filters.")
    else:
        part = pick(hist, ("finding", "site", "scanner_model"), "dr_hist", "n_month")
        part = part.sort_values("bin")
        if part.empty:
            st.info("No scores for this combination.")
        else:
            fig = _charts.score_histogram(part, month)
            st.plotly_chart(fig, width="stretch", key="dr_hist_chart")
            st.caption(score_rule_caption(part))


def show_control_charts() -> None:
    st.subheader("Control charts")
    spc = narrow(result.spc)
    if spc.empty:
        st.info("No control-chart series for the monitored months under these filters.")
    else:
        part = pick(spc, ("metric", "finding", "site"), "dr_spc", "n").sort_values("month")
        st.caption(spc_caption(part))
        low = int((part["expected_min"] < SPC_EXPECTED_MIN).sum())
        if low:
            st.warning(
                f"In {low} of {len(part)} months this series expected fewer than "
                f"{SPC_EXPECTED_MIN} cases on one side (events or non-events, at the reference "
                "proportion): the normal approximation behind the limits and the standardised "
                "deviations is poor there, and a signal may be the approximation's rather than "
                "a shift. Read it with the month's n (on hover) and the p-chart."
            )
        lazy_tabs(
            "dr_spc_tab",
            {
                "p-chart": lambda: st.plotly_chart(
                    _charts.p_chart(part), width="stretch", key="dr_pchart"
                ),
                "CUSUM": lambda: st.plotly_chart(
                    _charts.cusum_chart(part), width="stretch", key="dr_cusum"
                ),
                "EWMA": lambda: st.plotly_chart(
                    _charts.ewma_chart(part), width="stretch", key="dr_ewma"
                ),
            },
        )


#: Fewer expected events (or non-events) than this in a month: the normal approximation the
#: control charts rest on is poor (the usual rule for a proportion's normal approximation).
SPC_EXPECTED_MIN = 5


def spc_caption(part: pd.DataFrame) -> str:
    """What the control charts are, and whether an alert rule watches them."""
    rules = _alerts.alert_rules(snap) or _state.metric_fn("default_rules")()
    watching = sorted({r.name for r in rules if r.method in ("p_chart", "cusum", "ewma")})
    n = part["n"]
    alerts = (
        "Alert rules on control charts: " + ", ".join(watching) + "."
        if watching
        else "No alert rule uses a control chart (none of the defaults does): a signal here "
        "raises no alert; add a p_chart, cusum or ewma rule to alert_rules.toml for that."
    )
    return (
        "Each month against the reference window's proportion, for every site and finding: "
        f"p-chart with 3σ limits; tabular CUSUM with k = {CUSUM_K:g}, h = {CUSUM_H:g}; EWMA with "
        f"λ = {EWMA_LAMBDA:g}, L = {EWMA_L:g}. "
        f"n per month: {int(n.min()):,} to {int(n.max()):,}. {alerts}"
    )


def show_new_categories() -> None:
    st.subheader(f"New scanners, software and AI model versions in {month}")
    new = narrow(result.new_categories)
    if new.empty:
        st.success(
            "No scanner model, scanner software or AI model version that the reference window "
            "did not have."
        )
    else:
        rules = _alerts.alert_rules(snap) or _state.metric_fn("default_rules")()
        # one column names what is new or what the new version belongs to: a new scanner model
        # (its category), a scanner's software version, an AI model's version
        unit = [new_category_subject(r) for r in new.to_dict("records")]
        cols = [c for c in ("rule", "site", "category", "n", "status", "periods") if c in new]
        shown = new[cols].copy()
        shown.insert(min(2, len(cols)), "scanner_or_model", unit)
        # "not judged: <why>" (or "drift: no alert yet; <why>", "known: <since when>") in two
        # columns: the short status, and the reason in a wide column whose text wraps (in one
        # column of the table's width it was cut at 40 characters)
        words = _alerts.new_category_status(
            new, {r.name: r.min_n for r in rules}, {r.name: r.persistence for r in rules}
        )
        status, _, reason = zip(*(w.partition(": ") for w in words), strict=True)
        shown["status"] = status
        shown.insert(shown.columns.get_loc("status") + 1, "reason", reason)
        # the status and its reason right after what is new, the counts after them; widths
        # that add up to the table's 818 px at a 1280 x 800 window (_columns.TABLE_WIDTH_1280),
        # text wrapping in rows tall enough for its longest (a site of four lines was cut in
        # rows of three)
        row = rows_holding(shown, NEW_CATEGORY_WRAPPED)
        order = [c for c in NEW_CATEGORY_ORDER if c in shown.columns]
        st.dataframe(
            shown[order],
            hide_index=True,
            width="stretch",
            row_height=row,
            height=38 + row * min(len(shown), 10),  # every row up to 10, then a scroll bar
            column_config=NEW_CATEGORY_COLUMNS,
        )
        st.caption(
            "Status: drift when the category is new in a group the reference window knows "
            "(an alert once it has drifted for the rule's persistence, months in a row); "
            "known once it has alerted for the rule's alert_months (3 by default): listed, no "
            "alert; to monitor it against its own baseline, set a [reference] window in "
            "alert_rules.toml that contains months of it. Not judged when the group itself (a "
            "new scanner model's site and scanner) has too few studies in the month or the "
            "reference window (why: in the next column)."
        )


#: The new-categories table: what is new (rule, site, scanner or AI model, the new value), its
#: status and the reason, then the counts; widths that add up to at most the table's 818 px at
#: a 1280 x 800 window (the text of the first columns and the reason wraps in tall rows). The
#: site's 106 px hold "Seoul National University Hospital" on three lines (90 px took four).
NEW_CATEGORY_COLUMNS = {
    "rule": st.column_config.TextColumn("Rule", width=92, pinned=True),
    "site": st.column_config.TextColumn("Site", width=106, pinned=True),
    "scanner_or_model": st.column_config.TextColumn("Scanner or AI model", width=138),
    "category": st.column_config.TextColumn(
        "New value",
        width=79,
        help="The new scanner model, scanner software version or AI model version",
    ),
    "status": st.column_config.TextColumn("Status", width=75),
    "reason": st.column_config.TextColumn(
        "Why not judged, or no alert",
        width=205,
        help="Why the rule could not judge the row, or why a drift raises no alert: not "
        "yet (the rule's persistence: the months in a row it must drift), or no longer "
        "(known: it alerted for the rule's alert_months)",
    ),
    "n": st.column_config.NumberColumn(
        "Studies", format="%d", width=60, help="Studies of the new value this month"
    ),
    "periods": st.column_config.NumberColumn(
        "Months",
        width=62,
        help="Months running: since the month it first appeared after the reference "
        "window, this month included",
    ),
}
NEW_CATEGORY_ORDER = list(NEW_CATEGORY_COLUMNS)
#: The new-categories table's columns whose text wraps, and their widths (px).
NEW_CATEGORY_WRAPPED = {
    col: NEW_CATEGORY_COLUMNS[col]["width"]
    for col in ("rule", "site", "scanner_or_model", "category", "status", "reason")
}


def show_completeness() -> None:
    st.subheader("Label completeness by month")
    completeness = _state.call(
        "label_completeness", snap, by=("finding",), filters=ctx.filters, period="month"
    )
    if completeness.empty:
        st.info("No predictions match the current filters.")
    else:
        fig = _charts.completeness_lines(
            completeness, list(_state.filter_options(snap).of("finding"))
        )
        st.plotly_chart(fig, width="stretch", key="dr_completeness")
        st.caption(
            "Recent months are incomplete while reads are pending: performance there rests "
            "on fewer cases."
        )


def show_estimates() -> None:
    st.subheader(f"Estimated vs realised performance, {month}")
    st.caption(
        "Studies still waiting for their reads get an estimate from the AI score, calibrated on "
        "the reference window (confidence-based performance estimation); the realised figures "
        "are those of the studies already read in the same month. One row per site, finding "
        "and AI model version: two models reading the same finding are different products."
    )
    # every sidebar filter but the study date (the month sets it), on both halves alike
    filters = replace(ctx.filters, date_from=None, date_to=None)
    both = _state.call(
        "estimated_vs_realised",
        snap,
        month=month,
        reference=reference,
        by=("site", "finding"),
        filters=filters,
    )
    if both.empty:
        st.success(
            f"No study of {month} is waiting for its reads under these filters: nothing to "
            "estimate."
        )
        return
    n_pending, n_estimated = both.attrs["n_pending"], both.attrs["n_estimated"]
    st.caption(
        f"{n_pending:,.0f} predictions of {month} are pending under these filters"
        + (
            f" ({n_estimated:,.0f} of them estimated; the rest have no calibration: no "
            "labelled reference case of their AI model and finding)."
            if n_estimated < n_pending
            else "."
        )
    )
    est_metric = st.selectbox("Metric", ["sensitivity", "specificity", "accuracy"], key="dr_est")
    rows = both[both["metric"] == est_metric]
    part = rows.dropna(subset=["estimate"])
    if part.empty:
        st.info(f"No group has an estimate of {est_metric} in {month}.")
    else:
        fig = _charts.estimated_vs_realised(part, est_metric, n_pending)
        st.plotly_chart(fig, width="stretch", key="dr_estimated")
    # every row of the metric, those without an estimate or a realised value too; a site or
    # finding longer than its column wraps in tall rows (it was cut, whole only on hover)
    table = estimates_table(rows)[list(ESTIMATE_COLUMNS)]
    wrap = not all(fits(table[c], ESTIMATE_COLUMNS[c]["width"]) for c in ("site", "finding"))
    row = WRAP_ROW_HEIGHT if wrap else 35
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        row_height=row,
        height=38 + row * min(len(table), ESTIMATE_ROWS),  # then a scroll bar
        column_config={
            **ESTIMATE_COLUMNS,
            "estimate": st.column_config.TextColumn(
                "Estimate (95% CI)",
                width=ESTIMATE_WIDTH,
                help=f"CBPE estimate of {est_metric} for the pending predictions",
            ),
            "realised": st.column_config.TextColumn(
                "Realised (95% CI)",
                width=ESTIMATE_WIDTH,
                help=f"Observed {est_metric} among the predictions already read",
            ),
        },
    )
    methods = both.attrs["methods"]
    st.caption(
        f"Estimate: the pending studies' expected value, 95% CI by {methods['estimate']}. "
        "Realised: the same proportion among the month's studies already read (observed "
        f"counts), with its own 95% CI by {methods['realised']}. Difference: realised minus "
        "estimate. Covered: whether the realised value lies inside the estimate's 95% CI "
        "(a check of the estimate); blank when either value is missing. Not estimable: too few "
        "expected cases of the class among the pending studies; pending: too few of the "
        "month's studies read yet for a realised value."
    )


def estimates_table(both: pd.DataFrame) -> pd.DataFrame:
    """``metrics.estimated_vs_realised`` rows as text: a value with its 95% CI in one cell,
    "not estimable" / "pending" where a value is missing, blanks (never None) elsewhere."""

    def with_ci(v: object, lo: object, hi: object, missing: str) -> str:
        if pd.isna(v):  # type: ignore[call-overload]
            return missing
        text = _charts.fmt(float(v), "accuracy")  # type: ignore[arg-type]
        if pd.isna(lo) or pd.isna(hi):  # type: ignore[call-overload]
            return text
        return f"{text} ({100 * float(lo):.1f}–{100 * float(hi):.1f}%)"  # type: ignore[arg-type]

    has_both = both["estimate"].notna() & both["realised"].notna()
    out = both[["site", "finding"]].copy()
    out["model"] = _charts.model_label(both)
    out["n_pending"] = both["n_pending"].round().astype(int)
    out["n_read"] = both["n_read"].astype(int)
    out["estimate"] = [
        with_ci(v, lo, hi, "not estimable")
        for v, lo, hi in zip(both["estimate"], both["low"], both["high"], strict=True)
    ]
    out["realised"] = [
        with_ci(v, lo, hi, "pending")
        for v, lo, hi in zip(
            both["realised"], both["realised_low"], both["realised_high"], strict=True
        )
    ]
    out["difference"] = [
        f"{100 * d:+.1f} pts" if ok else ""
        for d, ok in zip(both["difference"], has_both, strict=True)
    ]
    out["covered"] = [
        ("yes" if c else "no") if ok else ""
        for c, ok in zip(both["covered"], has_both, strict=True)
    ]
    return out


#: The estimated-vs-realised table (one metric's rows) in words and percentages: the groups
#: (site, finding, AI model; pinned), then the answer (estimate and realised value with their
#: 95% CIs, the difference, covered or not), then the counts; the first seven add up to at most
#: the table's 818 px at a 1280 x 800 window. A site or finding longer than its column (a site
#: of 34 characters is 216 px) wraps in tall rows, whole: the three group columns at one line's
#: width would take 510 of the 818 px.
ESTIMATE_WIDTH = 138
#: Rows the estimated-vs-realised table shows before it scrolls.
ESTIMATE_ROWS = 8
ESTIMATE_COLUMNS = {
    "site": st.column_config.TextColumn("Site", width=145, pinned=True),
    "finding": st.column_config.TextColumn("Finding", width=125, pinned=True),
    "model": st.column_config.TextColumn(
        "AI model", width=125, pinned=True, help="AI model and version"
    ),
    "estimate": st.column_config.TextColumn("Estimate (95% CI)", width=ESTIMATE_WIDTH),
    "realised": st.column_config.TextColumn("Realised (95% CI)", width=ESTIMATE_WIDTH),
    "difference": st.column_config.TextColumn(
        "Difference", width=79, help="Realised minus estimate"
    ),
    "covered": st.column_config.TextColumn(
        "Covered", width=67, help="Realised value inside the estimate's 95% CI"
    ),
    "n_pending": st.column_config.NumberColumn(
        "Pending", format="%d", width=62, help="The month's predictions waiting for a read"
    ),
    "n_read": st.column_config.NumberColumn(
        "Read", format="%d", width=50, help="The month's predictions with a reference read"
    ),
}


lazy_tabs(
    "dr_tab",
    {
        "Alerts": show_alerts,
        "Score distribution": show_histograms,
        "Control charts": show_control_charts,
        "New scanners & software": show_new_categories,
        "Label completeness": show_completeness,
        "Estimated vs realised": show_estimates,
    },
)
