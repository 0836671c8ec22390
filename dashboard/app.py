"""RadQA dashboard entry point (minimal page until the dashboard issue lands)."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from radqa import store
from radqa.errors import StoreError

st.set_page_config(page_title="RadQA", layout="wide")
st.title("RadQA")
data_dir = Path(os.environ.get("RADQA_DATA_DIR", "data"))
try:
    con = store.open_snapshot(data_dir)
except StoreError as exc:
    st.error(str(exc))
    st.stop()
info = store.snapshot_info(con)
counts = {
    t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
    for t in ("studies", "predictions", "reads", "ingest_batches", "quarantine")
}
cols = st.columns(len(counts))
for col, (name, value) in zip(cols, counts.items(), strict=True):
    col.metric(name.replace("_", " "), f"{value:,}")
if info:
    st.caption(f"snapshot {info.snapshot_id} published {info.published_at:%Y-%m-%d %H:%M} UTC")
