"""Agreement: AI vs the reference standard and reader vs reader, by group; confusion matrix."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import _charts, _state
from dashboard._columns import (
    TABLE_WIDTH_1280,
    ci_text,
    column_config,
    percent,
    shares_rounded,
)
from dashboard._context import page_context
from dashboard._downloads import csv_download
from dashboard._filters import model_finding_picker
from dashboard._tabs import lazy_tabs
from radqa.errors import RadQAError

DIMS = (
    "site",
    "scanner_model",
    "scanner_manufacturer",
    "modality",
    "model_version",
    "ai_assisted",
    "patient_sex",
    "age_band",
)

ctx = page_context("Agreement")
snap = ctx.snap
assert snap is not None
left, right = st.columns(2)
with left:
    filters = model_finding_picker(snap, ctx.filters, key="ag_pair")
dim = right.selectbox("Group by", DIMS, key="ag_dim", format_func=lambda d: d.replace("_", " "))
if filters is None:
    st.info(
        "No model · finding has predictions under the current filters; widen the date range "
        "or clear a filter."
    )
    st.stop()

overall = _state.summarize(snap, filters, by=())
if overall.empty or int(overall["n_labelled"].iloc[0]) == 0:
    n = 0 if overall.empty else int(overall["n"].iloc[0])
    st.info(
        f"None of the {n:,} prediction(s) of this model and finding under these filters has a "
        "reference read yet (all pending), so agreement cannot be computed."
        if n
        else "No prediction of this model and finding matches the current filters."
    )
    st.stop()
row = overall.iloc[0]


def with_ci(*names: str) -> list[str]:
    """Each estimate's column followed by its interval's (``name``, ``name_low``, ``name_high``)."""
    return [c for name in names for c in (name, f"{name}_low", f"{name}_high")]


def show_ai() -> None:
    """Kappa, agreement and n overall, and the confusion matrix."""
    st.subheader("AI vs reference standard")
    c1, c2, c3 = st.columns(3)
    c1.metric("Cohen's kappa", _charts.fmt(row["kappa"], "kappa"), border=True)
    c1.caption(_charts.fmt_ci(row["kappa_low"], row["kappa_high"], "kappa"))
    c2.metric("Agreement", _charts.fmt(row["agreement"], "accuracy"), border=True)
    c2.caption(_charts.fmt_ci(row["agreement_low"], row["agreement_high"], "accuracy"))
    c3.metric("Labelled cases", f"{int(row['n_labelled']):,}", border=True)
    c3.caption(f"{int(row['pending']):,} pending")
    methods = overall.attrs.get("methods", {})
    st.caption(
        f"95% CI: kappa: {methods.get('kappa', '')}; agreement: {methods.get('agreement', '')}."
    )
    st.plotly_chart(
        _charts.confusion(
            int(row["tp"]),
            int(row["fp"]),
            int(row["fn"]),
            int(row["tn"]),
            "AI output vs reference standard",
        ),
        width="stretch",
        key="ag_confusion",
    )


#: Column labels of the agreement tables (the CSV keeps the raw names)
LABELS = {
    "n_labelled": "Labelled cases",
    "pending": "Awaiting a read",
    "insufficient_reason": "Why insufficient",
    "n_items": "Double-read items",
    "n_items_3": "Items read 3+ times",
    "kappa": "Cohen's kappa",
    "agreement": "Percent agreement",
    "fleiss_kappa": "Fleiss' kappa",
    "ac1": "Gwet's AC1",
    "note": "Note",
    "kappa_ci": "Cohen's kappa, 95% CI",
    "agreement_ci": "Percent agreement, 95% CI",
    "kappa_reason": "Why kappa is not estimable",
}

#: Widths (px) of the agreement tables' leading columns: the group, kappa and its 95% CI,
#: percent agreement and its 95% CI; the reason a value is missing takes the rest of the
#: table's 818 px at a 1280 x 800 window, then the counts and the other coefficients follow.
#: With a reason the rows are tall and a long group name wraps (GROUP_WIDTH); without, the
#: group has room for "Seoul National University Hospital" on one line (WIDE_GROUP_WIDTH).
GROUP_WIDTH = 170
WIDE_GROUP_WIDTH = 215
ANSWER_WIDTHS = {"kappa": 106, "kappa_ci": 110, "agreement": 90, "agreement_ci": 120}
REASON_WIDTH = TABLE_WIDTH_1280 - GROUP_WIDTH - sum(ANSWER_WIDTHS.values())
#: A reason of about 130 characters wraps to four lines in REASON_WIDTH: rows that hold them
FOUR_LINES_ROW_HEIGHT = 90


def answer_columns(
    group: str, kappa: object, reason: str, *, group_width: int = GROUP_WIDTH
) -> dict[str, object]:
    """The column config of an agreement table's leading columns: the group (pinned), Cohen's
    kappa, percent agreement, each with its 95% CI as one text cell, and the reason a value is
    missing (``reason``), in widths that fit the table at a 1280 x 800 window."""
    return {
        group: st.column_config.TextColumn(
            group.replace("_", " ").capitalize(), width=group_width, pinned=True
        ),
        "kappa": kappa,
        "kappa_ci": st.column_config.TextColumn(
            "95% CI", width=ANSWER_WIDTHS["kappa_ci"], help="Cohen's kappa, 95% CI"
        ),
        "agreement": percent(
            "Agreement", width=ANSWER_WIDTHS["agreement"], help="Percent agreement"
        ),
        "agreement_ci": st.column_config.TextColumn(
            "95% CI", width=ANSWER_WIDTHS["agreement_ci"], help="Percent agreement, 95% CI"
        ),
        reason: st.column_config.TextColumn(LABELS[reason], width=REASON_WIDTH),
    }  # fmt: skip


def left_out(
    table: pd.DataFrame, label: str, n: str, unit: str, why: str, *, none_plotted: bool = False
) -> str:
    """A caption naming the groups a forest plot leaves out (no estimate) and why: "Not
    plotted, kappa not estimable: Osaka (58 double-read items): the readers agreed ..."."""
    parts = [
        f"{r[label]} ({int(r[n]):,} {unit}): {str(r[why]).removeprefix('not estimable: ')}"
        for _, r in table.iterrows()  # one row per group left out: a handful, not data rows
    ]
    head = "No forest plot" if none_plotted else "Not plotted"
    return f"{head}, kappa not estimable: " + "; ".join(parts) + "."


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop."""
    return text[:1].upper() + text[1:].rstrip(".") + "."


def kappa_words(readers: pd.DataFrame) -> pd.DataFrame:
    """The reader table as shown: Cohen's kappa and the 95% CIs as text, "not estimable" (with
    the reason as a sentence in its own column, empty where kappa has a value) instead of an
    empty cell."""
    shown = readers.copy()
    ok = shown["kappa"].notna()
    shown["kappa_ci"] = [
        _charts.fmt_ci(lo, hi, "kappa").removeprefix("95% CI ") if good else "–"
        for lo, hi, good in zip(shown["kappa_low"], shown["kappa_high"], ok, strict=True)
    ]
    shown["agreement_ci"] = [
        _charts.fmt_ci(lo, hi, "accuracy").removeprefix("95% CI ")
        for lo, hi in zip(shown["agreement_low"], shown["agreement_high"], strict=True)
    ]
    shown["kappa"] = [
        _charts.fmt(v, "kappa") if good else "not estimable"
        for v, good in zip(shown["kappa"], ok, strict=True)
    ]
    shown["kappa_reason"] = [
        "" if good else sentence(str(why).removeprefix("not estimable: "))
        for why, good in zip(shown["kappa_reason"], ok, strict=True)
    ]
    return shown


def show_groups() -> None:
    """AI vs reference kappa by the chosen group: forest plot and table."""
    st.subheader(f"AI vs reference standard by {dim.replace('_', ' ')}")
    groups = _state.summarize(snap, filters, by=(dim,))
    ok = groups[groups["kappa"].notna()].copy()
    if ok.empty:
        st.info(f"No {dim.replace('_', ' ')} group has enough labelled cases for kappa.")
    else:
        ok["label"], ok["value"] = ok[dim].astype(str), ok["kappa"]
        ok["low"], ok["high"], ok["n"] = ok["kappa_low"], ok["kappa_high"], ok["n_labelled"]
        colours = _charts.colour_map(list(_state.filter_options(snap).of(dim) or ok["label"]))
        st.plotly_chart(
            _charts.forest(
                ok,
                "kappa",
                pooled=None,
                title=f"Kappa by {dim.replace('_', ' ')}",
                colours=colours,
                n_total=int(groups["n_labelled"].sum()),
                n_unit="labelled cases",
            ),
            width="stretch",
            key="ag_forest",
        )
    dropped = groups[groups["kappa"].isna()]
    if not ok.empty and not dropped.empty:
        st.caption(left_out(dropped, dim, "n_labelled", "labelled", "insufficient_reason"))
    cols = [dim, "n_labelled", "pending", *with_ci("kappa", "agreement"), "insufficient_reason"]
    # shown: kappa and agreement with their 95% CIs (one text cell each) right after the group,
    # the reason where a group has none, then the counts; the CSV keeps every number
    table = groups[cols].assign(
        kappa_ci=ci_text(groups["kappa_low"], groups["kappa_high"], "kappa"),
        agreement_ci=ci_text(groups["agreement_low"], groups["agreement_high"], "accuracy"),
        insufficient_reason=groups["insufficient_reason"].fillna(""),  # blank, not "None"
    )
    why = bool((table["insufficient_reason"] != "").any())
    shown_cols = [dim, "kappa", "kappa_ci", "agreement", "agreement_ci"]
    shown_cols += ["insufficient_reason"] if why else []
    shown_cols += ["n_labelled", "pending"]
    config = column_config(table[shown_cols], LABELS)
    config.update(
        answer_columns(
            dim,
            st.column_config.NumberColumn(
                LABELS["kappa"], format="%.3f", width=ANSWER_WIDTHS["kappa"]
            ),
            "insufficient_reason",
            group_width=GROUP_WIDTH if why else WIDE_GROUP_WIDTH,
        )
    )
    config["n_labelled"] = st.column_config.NumberColumn(
        LABELS["n_labelled"], format="localized", width=105
    )
    config["pending"] = st.column_config.NumberColumn(
        "Pending", format="localized", width=62, help="Awaiting a reference read"
    )
    row_height = FOUR_LINES_ROW_HEIGHT if why else 35  # the reason wraps
    st.dataframe(
        shares_rounded(table[shown_cols], config),
        hide_index=True,
        width="stretch",
        column_config=config,
        row_height=row_height,
        height=38 + row_height * min(len(table), 10),  # every row up to 10, then a scroll bar
    )
    csv_download(ctx, groups[cols], f"ai-vs-reference-by-{dim}", filters=filters)


def show_readers() -> None:
    """Reader vs reader agreement (Cohen, Fleiss, Gwet's AC1): all double-read items, then by
    the chosen group."""
    st.subheader("Reader vs reader")
    st.caption("Clinical reads of the same studies by different radiologists (pseudonymised).")
    reader_filters = replace(filters, model_name=(), model_version=())
    # reads have no model: group reader agreement by the finding where the page groups by version
    reader_dim = "finding" if dim == "model_version" else dim
    group_word = reader_dim.replace("_", " ")
    try:
        readers = _state.call("reader_agreement", snap, by=(reader_dim,), filters=reader_filters)
        pooled = _state.call("reader_agreement", snap, by=(), filters=reader_filters)
    except RadQAError as exc:
        st.info(f"Reader agreement not computable: {exc}")
        return
    if readers is None or len(readers) == 0 or int(readers["n_items"].sum()) == 0:
        st.info("No study of this finding has two or more independent reads under these filters.")
        return
    methods = readers.attrs.get("methods", {})
    total = readers[["n_items", "n_items_3"]].sum()
    every = pooled.iloc[0]
    c1, c2, c3 = st.columns(3)
    with c1:
        st.metric("Double-read items", f"{int(total['n_items']):,}", border=True)
        st.caption(f"{int(total['n_items_3']):,} with three or more readers")
    with c2:
        estimable = pd.notna(every["kappa"])
        value = _charts.fmt(every["kappa"], "kappa") if estimable else "not estimable"
        st.metric(f"Cohen's kappa, all {int(every['n_items']):,} items", value, border=True)
        st.caption(
            _charts.fmt_ci(every["kappa_low"], every["kappa_high"], "kappa")
            if estimable
            else sentence(str(every["kappa_reason"]).removeprefix("not estimable: "))
        )
    with c3:
        st.metric(
            f"Percent agreement, all {int(every['n_items']):,} items",
            _charts.fmt(every["agreement"], "accuracy"),
            border=True,
        )
        st.caption(_charts.fmt_ci(every["agreement_low"], every["agreement_high"], "accuracy"))
    shown = readers[readers["kappa"].notna()].copy()
    dropped = readers[readers["kappa"].isna()]
    if not shown.empty:
        shown["label"], shown["value"] = shown[reader_dim].astype(str), shown["kappa"]
        shown["low"], shown["high"] = shown["kappa_low"], shown["kappa_high"]
        shown["n"] = shown["n_items"]
        colours = _charts.colour_map(
            list(_state.filter_options(snap).of(reader_dim) or shown["label"])
        )
        plotted = f", {len(shown)} of {len(readers)} plotted" if not dropped.empty else ""
        st.plotly_chart(
            _charts.forest(
                shown,
                "kappa",
                pooled=None,
                title=f"Reader vs reader kappa by {group_word}{plotted}",
                colours=colours,
                axis_label="Kappa (radiologist vs radiologist)",
                n_total=int(total["n_items"]),
                n_unit="double-read items",
            ),
            width="stretch",
            key="ag_readers_forest",
        )
    if not dropped.empty and len(readers) > 1:  # one group: the kappa tile above says why
        st.caption(
            left_out(
                dropped,
                reader_dim,
                "n_items",
                "double-read items",
                "kappa_reason",
                none_plotted=shown.empty,
            )
        )
    # kappa and agreement with their 95% CIs right after the group, the reason kappa is
    # missing next, then the counts and the other coefficients
    cols = [reader_dim, "kappa", "kappa_ci", "agreement", "agreement_ci"]
    cols += ["kappa_reason"] if not dropped.empty else []
    cols += ["n_items", "n_items_3", *with_ci("fleiss_kappa", "ac1"), "note"]
    table = kappa_words(readers)[cols]
    config = column_config(table, LABELS)
    config.update(
        answer_columns(
            reader_dim,
            st.column_config.TextColumn(LABELS["kappa"], width=ANSWER_WIDTHS["kappa"]),
            "kappa_reason",
            group_width=GROUP_WIDTH if not dropped.empty else WIDE_GROUP_WIDTH,
        )
    )
    config["n_items"] = st.column_config.NumberColumn(
        LABELS["n_items"], format="localized", width=128
    )
    wrap = not dropped.empty  # the reason wraps
    row_height = FOUR_LINES_ROW_HEIGHT if wrap else 35
    st.dataframe(
        shares_rounded(table, config),
        hide_index=True,
        width="stretch",
        column_config=config,
        row_height=row_height,
        height=38 + row_height * min(len(table), 10),  # every row up to 10, then a scroll bar
    )
    st.caption(
        "95% CI: "
        + " · ".join(f"{k}: {v}" for k, v in methods.items())
        + "; percent agreement of 0% or 100%: Wilson (1927) interval."
    )


lazy_tabs(
    "ag_tab",
    {
        "AI vs reference standard": show_ai,
        "By group": show_groups,
        "Reader vs reader": show_readers,
    },
)
