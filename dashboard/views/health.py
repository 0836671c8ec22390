"""Data health: counts, snapshot id and age, ingest batches, quarantine, label completeness."""

from __future__ import annotations

import streamlit as st

from dashboard import _charts, _state, auth
from dashboard._context import page_context, snapshot_age
from dashboard._downloads import csv_download
from dashboard._filters import describe
from dashboard._tabs import lazy_tabs

ctx = page_context(
    "Data health",
    without_predictions=True,
    scope="Data health covers the whole snapshot: the sidebar filters do not apply here, "
    "except on the Label completeness tab.",
)
snap = ctx.snap
assert snap is not None
auth.require(ctx.user, "admin", "Data health")

counts = _state.call("overview_counts", snap)
HELP = {
    "pending": "Study × finding pairs that have an AI prediction but no reference read yet "
    "(not counted in accuracy until read).",
    "quarantined": "Rows refused at ingest, with their reasons on the Quarantined rows tab.",
}
# two rows of three: six to a row cut hospital-sized counts short ("584,…")
for row in (
    [("studies", "Studies"), ("predictions", "Predictions"), ("reads", "Reads")],
    [("batches", "Committed batches"), ("quarantined", "Quarantined rows"),
     ("pending", "Awaiting a reference read")],
):  # fmt: skip
    for col, (key, label) in zip(st.columns(3), row, strict=True):
        col.metric(label, f"{int(counts[key]):,}", border=True, help=HELP.get(key))
age = snapshot_age(snap)
st.caption(
    f"Snapshot {snap.snapshot_id or 'unpublished'}"
    + (
        f", published {snap.published_at:%Y-%m-%d %H:%M} UTC "
        f"({age.days} d {age.seconds // 3600} h ago)"
        if age is not None
        else ""
    )
    + f"; {int(counts['refused_batches'])} refused batch(es); "
    f"{int(counts['labelled']):,} labelled study × finding pairs."
)


def show_batches() -> None:
    st.subheader("Ingest batches")
    batches = _state.call("ingest_batches", snap)
    if len(batches) == 0:
        st.info("No ingest batch recorded in this snapshot.")
    else:
        # a refusal's reason is what the user must act on, and the table cuts it short
        refused = batches[batches["status"] == "refused"]
        if len(refused):
            shown = refused.head(5)
            latest = "" if len(shown) == len(refused) else f": the latest {len(shown)}"
            with st.expander(
                f"Files refused whole ({len(refused)}){latest}, with their reasons", expanded=True
            ):
                for batch_id, message in zip(shown["batch_id"], shown["message"], strict=True):
                    st.text(f"batch {batch_id}: {message}")
        st.dataframe(
            batches,
            hide_index=True,
            width="stretch",
            column_config={"message": st.column_config.TextColumn("message", width="large")},
        )


def show_quarantine() -> None:
    st.subheader("Quarantined rows")
    quarantine = _state.call("quarantine_rows", snap, limit=500)
    if len(quarantine) == 0:
        st.success("No row was quarantined at ingest.")
    else:
        st.caption(f"The latest {len(quarantine):,} quarantined rows, with their reasons.")
        st.dataframe(quarantine, hide_index=True, width="stretch")
        csv_download(ctx, quarantine, "quarantine")


def show_completeness() -> None:
    st.subheader("Label completeness by site")
    st.caption(f"Filters: {describe(ctx.filters)}.")
    comp = _state.call("label_completeness", snap, by=("site",), filters=ctx.filters)
    if comp.empty:
        st.info("No predictions match the current filters.")
    else:
        comp = comp.assign(completeness_pct=100 * comp["completeness"])
        st.plotly_chart(
            _charts.bars(
                comp,
                "site",
                "completeness_pct",
                title=f"Predictions with a reference read (n = {int(comp['n'].sum()):,})",
                y_title="Labelled (%)",
            ),
            width="stretch",
            key="dh_completeness",
        )
        st.dataframe(comp.drop(columns=["completeness_pct"]), hide_index=True, width="stretch")


lazy_tabs(
    "dh_tab",
    {
        "Ingest batches": show_batches,
        "Quarantined rows": show_quarantine,
        "Label completeness": show_completeness,
    },
)
