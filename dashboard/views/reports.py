"""Reports & exports: the monthly drift report and the trial statistics export (admin only).

Every generation and every download is written to the audit log (DATA_DIR/audit.log).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import _alerts, _audit, auth
from dashboard._context import page_context
from radqa.errors import RadQAError

MIME = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".json": "application/json",
    ".csv": "text/csv",
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

ctx = page_context("Reports & exports")
snap = ctx.snap
assert snap is not None
auth.require(ctx.user, "admin", "Reports and exports")


def downloads(paths: list[Path], what: str, key: str) -> None:
    for path in paths:
        if not path.is_file():
            continue
        st.download_button(
            f"Download {path.name}",
            path.read_bytes(),
            file_name=path.name,
            mime=MIME.get(path.suffix, "application/octet-stream"),
            key=f"{key}_{path.name}",
            on_click=_audit.log_event,
            kwargs={
                "data_dir": snap.data_dir,
                "who": ctx.user.who,
                "what": f"download:{what}",
                "snapshot_id": snap.snapshot_id,
                "file": path.name,
            },
        )


def os_reason(exc: OSError, folder: Path) -> str:
    """An OSError in one line: the path it concerns (``folder`` when it names none, as a write
    error does) and the operating system's reason."""
    return f"{exc.filename or folder}: {exc.strerror or exc}"


st.header("Monthly drift report")
month = st.selectbox("Month", _alerts.months(snap)[::-1], key="rp_month")
out_dir = snap.data_dir / "reports"
if st.button("Generate the report", key="rp_generate", type="primary"):
    from reports.monthly import write_monthly_report as write  # imported on use: heavy

    try:
        with st.spinner(f"Writing the report for {month} ..."):
            write(snap.data_dir, month, out_dir)
        _audit.log_event(
            snap.data_dir,
            who=ctx.user.who,
            what="generate:monthly-report",
            snapshot_id=snap.snapshot_id,
            month=month,
        )
    except RadQAError as exc:
        st.error(f"The report for {month} could not be written: {exc}")
    except OSError as exc:  # a read-only data dir, a full disk: the rest of the page still draws
        st.error(f"The report for {month} could not be written: {os_reason(exc, out_dir)}")
# only the chosen month's files: a report generated for another month is not offered here
paths = sorted(out_dir.glob(f"drift-report-{month}.*")) if out_dir.is_dir() else []
if paths:
    st.caption(f"The drift report for {month} in {out_dir}:")
    downloads(paths, "monthly-report", "rp_dl")
else:
    st.caption(f"No report for {month} yet in {out_dir}.")

st.header("Trial statistics export")
st.caption(
    "Tables for STARD / CLAIM / CONSORT-AI reporting (XLSX, CSV, JSON) with a provenance "
    "sheet; the date range of the sidebar filter applies."
)
design = st.selectbox("Design", ["auto", "parallel", "paired", "mrmc"], key="tx_design")
endpoint = st.selectbox("Endpoint", ["accuracy", "missed_findings"], key="tx_endpoint")
export_dir = snap.data_dir / "exports"
if st.button("Export trial statistics", key="tx_generate"):
    from reports.trial import export_trial as export  # imported on use

    f = ctx.filters
    try:
        with st.spinner("Exporting ..."):
            st.session_state["tx_paths"] = [
                Path(p)
                for p in export(
                    snap.data_dir,
                    export_dir,
                    design=design,
                    arm_column="arm",
                    endpoint=endpoint,
                    date_from=f.date_from.isoformat() if f.date_from else None,
                    date_to=f.date_to.isoformat() if f.date_to else None,
                    formats=("xlsx", "csv", "json"),
                )
            ]
        _audit.log_event(
            snap.data_dir,
            who=ctx.user.who,
            what="generate:trial-export",
            snapshot_id=snap.snapshot_id,
            design=design,
            endpoint=endpoint,
        )
    except RadQAError as exc:
        st.error(f"The trial export could not be written: {exc}")
    except OSError as exc:
        st.error(f"The trial export could not be written: {os_reason(exc, export_dir)}")
if st.session_state.get("tx_paths"):
    downloads(st.session_state["tx_paths"], "trial-export", "tx_dl")

st.header("Audit log")
events = _audit.read_events(snap.data_dir)
if events:
    st.dataframe(events[::-1][:200], hide_index=True, width="stretch")
else:
    st.caption("No export or download has been logged yet.")
