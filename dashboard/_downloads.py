"""Table downloads: an admin's CSV download button, each download in the audit log.

Streamlit's own table toolbar ("Download as CSV", copying cells) is turned off for every user
(``radqa serve`` passes ``--client.disableDataExport true``): it cannot be limited to a role and
leaves no trace. Downloads go through :func:`csv_download` instead (auth.py: exports, CSV
downloads of tables included, are the admin's).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard import _audit
from dashboard._context import Context
from dashboard._filters import Filters, describe


def csv_download(
    ctx: Context,
    table: pd.DataFrame,
    name: str,
    *,
    filters: Filters | None = None,
    **details: Any,
) -> None:
    """For an admin, a "Download CSV" button for ``table`` as ``{name}.csv``, logged as
    ``csv:{name}`` with the snapshot, the filters (the page's own, such as a model and finding
    picked on it, else the sidebar's) and ``details``; for anyone else, a caption that downloads
    need the admin role."""
    if not ctx.user.can("admin"):
        st.caption("Downloading tables needs the admin role.")
        return
    snap = ctx.snap
    assert snap is not None
    st.download_button(
        "Download CSV",
        table.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv_{name}",
        on_click=lambda: _audit.log_event(
            snap.data_dir,
            who=ctx.user.who,
            what=f"csv:{name}",
            snapshot_id=snap.snapshot_id,
            filters=describe(filters or ctx.filters),
            **details,
        ),
    )
