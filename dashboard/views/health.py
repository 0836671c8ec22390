"""Data health: counts, snapshot id and age, ingest batches, quarantine, label completeness."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import _charts, _state, auth
from dashboard._columns import TABLE_WIDTH_1280, WRAP_ROW_HEIGHT
from dashboard._context import page_context, snapshot_age
from dashboard._downloads import csv_download
from dashboard._filters import describe
from dashboard._tabs import lazy_tabs


def ago(age: dt.timedelta) -> str:
    """How long ago, in words: 'less than an hour ago', '5 h ago', '2 d 3 h ago'."""
    hours = age.seconds // 3600
    if age.days <= 0 and hours == 0:
        return "less than an hour ago"
    return f"{age.days} d {hours} h ago" if age.days > 0 else f"{hours} h ago"


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
    "quarantined_open": "Rows refused at ingest that no later batch has loaded a row of the "
    f"same key for (the rows still to mend): {int(counts['quarantined']):,} quarantined in all, "
    "with their reasons on the Quarantined rows tab.",
}
# two rows of three: six to a row cut hospital-sized counts short ("584,…")
for row in (
    [("studies", "Studies"), ("predictions", "Predictions"), ("reads", "Reads")],
    [("batches", "Committed batches"), ("quarantined_open", "Quarantined rows, open"),
     ("pending", "Awaiting a reference read")],
):  # fmt: skip
    for col, (key, label) in zip(st.columns(3), row, strict=True):
        col.metric(label, f"{int(counts[key]):,}", border=True, help=HELP.get(key))
age = snapshot_age(snap)
st.caption(
    f"Snapshot {snap.snapshot_id or 'unpublished'}"
    + (
        f", published {snap.published_at:%Y-%m-%d %H:%M} UTC ({ago(age)})"
        if age is not None
        else ""
    )
    + f"; {int(counts['refused_batches'])} refused batch(es); "
    f"{int(counts['labelled']):,} labelled study × finding pairs."
)


#: The ingest batches table's columns in words (the CSV download keeps the raw names).
BATCH_LABELS = {
    "batch_id": "Batch", "kind": "Kind", "file_name": "File", "status": "Status",
    "message": "Message", "rows_read": "Rows read", "rows_accepted": "Accepted",
    "rows_inserted": "New", "rows_replaced": "Replaced", "rows_unchanged": "Unchanged",
    "rows_quarantined": "Quarantined", "started_at": "Started (UTC)",
    "finished_at": "Finished (UTC)", "file_bytes": "File size (bytes)",
    "file_sha256": "File SHA-256",
}  # fmt: skip


#: The batches table's leading columns: the batch, its file, its status and the message (what
#: happened, or why the file was refused) in the rest of the table's 818 px at a 1280 x 800
#: window (_columns.TABLE_WIDTH_1280), its text wrapping in tall rows; the counts, times,
#: size and checksum follow.
BATCH_WIDTHS = {"batch_id": 55, "file_name": 165, "status": 85}
BATCH_WIDTHS["message"] = TABLE_WIDTH_1280 - sum(BATCH_WIDTHS.values())
#: About the characters of a message that one line of its column holds
MESSAGE_LINE = 75


def _batch_columns(table: pd.DataFrame) -> dict[str, object]:
    config: dict[str, object] = {}
    for col in table.columns:
        label = BATCH_LABELS.get(col, col)
        width = BATCH_WIDTHS.get(col)
        if col == "message":
            config[col] = st.column_config.TextColumn(label, width=width)
        elif col == "batch_id":
            config[col] = st.column_config.NumberColumn(
                label, format="%d", width=width, pinned=True
            )
        elif col.startswith("rows_") or col == "file_bytes":
            config[col] = st.column_config.NumberColumn(label, format="localized")
        elif width:
            config[col] = st.column_config.TextColumn(label, width=width)
        else:
            config[col] = st.column_config.Column(label)
    return config


def _batch_order(table: pd.DataFrame) -> list[str]:
    """The batches table's columns, those of BATCH_WIDTHS first."""
    return [*(c for c in BATCH_WIDTHS if c in table), *(c for c in table if c not in BATCH_WIDTHS)]


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
        shown = batches[_batch_order(batches)]
        wrap = bool((batches["message"].fillna("").str.len() > MESSAGE_LINE).any())
        row = WRAP_ROW_HEIGHT if wrap else 35
        st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            column_config=_batch_columns(shown),
            row_height=row,  # a long message wraps
            height=38 + row * min(len(shown), 10),  # every row up to 10, then a scroll bar
        )


def show_quarantine() -> None:
    st.subheader("Quarantined rows")
    quarantine = _state.call("quarantine_rows", snap, limit=500)
    if len(quarantine) == 0:
        st.success("No row was quarantined at ingest.")
    else:
        mended = int(quarantine["loaded_later"].notna().sum())
        st.caption(
            f"The latest {len(quarantine):,} quarantined rows, with their reasons; {mended:,} of "
            "them have since been loaded (a later batch stored a row of the same key: "
            "its batch is in 'Loaded since')."
        )
        st.dataframe(
            quarantine,
            hide_index=True,
            width="stretch",
            column_config={
                "batch_id": st.column_config.NumberColumn("Batch", format="%d"),
                "kind": "Kind",
                "file_name": "File",
                "row_number": st.column_config.NumberColumn("Row", format="%d"),
                "column_name": "Column",
                "reason": st.column_config.TextColumn("Reason", width="large"),
                "loaded_later": st.column_config.NumberColumn(
                    "Loaded since",
                    format="batch %d",
                    help="The later batch that loaded a row of the same key (empty: still to mend)",
                ),
                "raw_values": st.column_config.TextColumn("Values (ids as pseudonyms)"),
            },
        )
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
        # in words, counts with separators, the share to one decimal (it showed the raw
        # frame: "completeness 0.9804", "n 7454")
        st.dataframe(
            comp[list(COMPLETENESS_COLUMNS)],
            hide_index=True,
            width="stretch",
            column_config=COMPLETENESS_COLUMNS,
        )


#: The label completeness table: each site's share of predictions with a reference read (in %,
#: as the chart above draws it) and the counts it comes from.
COMPLETENESS_COLUMNS = {
    "site": st.column_config.TextColumn("Site"),
    "completeness_pct": st.column_config.NumberColumn(
        "With a reference read", format="%.1f%%", help="Share of the site's predictions"
    ),
    "labelled": st.column_config.NumberColumn("Read", format="localized"),
    "pending": st.column_config.NumberColumn("Awaiting a reference read", format="localized"),
    "n": st.column_config.NumberColumn("Predictions", format="localized"),
}


lazy_tabs(
    "dh_tab",
    {
        "Ingest batches": show_batches,
        "Quarantined rows": show_quarantine,
        "Label completeness": show_completeness,
    },
)
