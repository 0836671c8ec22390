"""Agreement: AI vs the reference standard and reader vs reader, by group; confusion matrix."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from dashboard import _charts, _state
from dashboard._columns import column_config
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
}


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
                ok, "kappa", pooled=None, title=f"Kappa by {dim.replace('_', ' ')}", colours=colours
            ),
            width="stretch",
            key="ag_forest",
        )
    cols = [dim, "n_labelled", "pending", *with_ci("kappa", "agreement"), "insufficient_reason"]
    st.dataframe(
        groups[cols],
        hide_index=True,
        width="stretch",
        column_config=column_config(groups[cols], LABELS),
    )
    csv_download(ctx, groups[cols], f"ai-vs-reference-by-{dim}", filters=filters)


def show_readers() -> None:
    """Reader vs reader agreement (Cohen, Fleiss, Gwet's AC1) by the chosen group."""
    st.subheader("Reader vs reader")
    st.caption("Clinical reads of the same studies by different radiologists (pseudonymised).")
    reader_filters = replace(filters, model_name=(), model_version=())
    # reads have no model: group reader agreement by the finding where the page groups by version
    reader_dim = "finding" if dim == "model_version" else dim
    try:
        readers = _state.call("reader_agreement", snap, by=(reader_dim,), filters=reader_filters)
    except RadQAError as exc:
        st.info(f"Reader agreement not computable: {exc}")
    else:
        if readers is None or len(readers) == 0 or int(readers["n_items"].sum()) == 0:
            st.info(
                "No study of this finding has two or more independent reads under these filters."
            )
        else:
            methods = readers.attrs.get("methods", {})
            total = readers[["n_items", "n_items_3"]].sum()
            r1 = st.columns(3)[0]
            shown = readers[readers["kappa"].notna()].copy()
            with r1:
                st.metric("Double-read items", f"{int(total['n_items']):,}", border=True)
                st.caption(f"{int(total['n_items_3']):,} with three or more readers")
            if not shown.empty:
                shown["label"], shown["value"] = shown[reader_dim].astype(str), shown["kappa"]
                shown["low"], shown["high"] = shown["kappa_low"], shown["kappa_high"]
                shown["n"] = shown["n_items"]
                colours = _charts.colour_map(
                    list(_state.filter_options(snap).of(reader_dim) or shown["label"])
                )
                st.plotly_chart(
                    _charts.forest(
                        shown,
                        "kappa",
                        pooled=None,
                        title=f"Reader vs reader kappa by {reader_dim.replace('_', ' ')}",
                        colours=colours,
                        axis_label="Kappa (radiologist vs radiologist)",
                    ),
                    width="stretch",
                    key="ag_readers_forest",
                )
            cols = [
                reader_dim,
                "n_items",
                *with_ci("kappa", "agreement"),
                "n_items_3",
                *with_ci("fleiss_kappa", "ac1"),
                "note",
            ]
            table = readers[[c for c in cols if c in readers.columns]]
            st.dataframe(
                table, hide_index=True, width="stretch", column_config=column_config(table, LABELS)
            )
            st.caption(" · ".join(f"{k}: {v}" for k, v in methods.items()))


lazy_tabs(
    "ag_tab",
    {
        "AI vs reference standard": show_ai,
        "By group": show_groups,
        "Reader vs reader": show_readers,
    },
)
