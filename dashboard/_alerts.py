"""Drift alerts: live from ``metrics.monitor`` (Drift page), or as the monthly report recorded
them (the Overview's banner, which must render in a moment even on 10M predictions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import _state
from radqa.errors import RadQAError


def latest_month(snap: _state.Snapshot) -> str | None:
    months = sorted(_state.options(snap)["period"].dropna().unique())
    return str(months[-1]) if months else None


def months(snap: _state.Snapshot) -> list[str]:
    return [str(m) for m in sorted(_state.options(snap)["period"].dropna().unique())]


#: The reference window when the user has not chosen one: the first six months of data.
DEFAULT_REFERENCE_MONTHS = 6


def reference_window(n_months: int = DEFAULT_REFERENCE_MONTHS) -> Any:
    return _state.metric_fn("ReferenceWindow").first_months(int(n_months))


def alert_rules(snap: _state.Snapshot) -> tuple[Any, ...] | None:
    """The data dir's alert rules (``alert_rules.toml``, as the monthly report uses them), or
    None for the defaults when the file is absent. The dashboard never writes the file."""
    path = snap.data_dir / "alert_rules.toml"
    if not path.exists():
        return None
    return tuple(_state.metric_fn("load_rules")(path))


def run_monitor(
    snap: _state.Snapshot, month: str, reference_months: int = DEFAULT_REFERENCE_MONTHS
) -> tuple[Any | None, str | None]:
    """``(result, None)`` or ``(None, why there is none)``."""
    try:
        reference = reference_window(reference_months)
        rules = alert_rules(snap)
        return _state.call("monitor", snap, month=month, reference=reference, rules=rules), None
    except RadQAError as exc:
        return None, str(exc)


def alerts_frame(result: Any) -> pd.DataFrame:
    """The alerts of a monitor result as a DataFrame (whatever container monitor returns)."""
    rows = [a.as_dict() for a in result.alerts]
    if not rows:
        return pd.DataFrame()
    out = pd.DataFrame(rows)
    out["group"] = [", ".join(f"{k}: {v}" for k, v in g.items()) for g in out["group"]]
    out["evidence"] = [
        "; ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in e.items()
            if v is not None
        )
        for e in out["evidence"]
    ]
    return out


def latest_report(data_dir: Path) -> tuple[str, dict[str, Any]] | None:
    """(month, JSON) of the newest monthly drift report in ``DATA_DIR/reports``, if any."""
    reports = sorted((data_dir / "reports").glob("drift-report-????-??.json"))
    for path in reversed(reports):
        try:
            return path.stem.removeprefix("drift-report-"), json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return None


def show_report_alerts(snap: _state.Snapshot) -> None:
    """The alerts of the latest monthly drift report at the top of the Overview.

    Monitoring every group over every month takes seconds on a large store; the committee acts
    on the monthly report, and the Drift page computes the current month live.
    """
    found = latest_report(snap.data_dir)
    if found is None:
        st.caption(
            "No monthly drift report yet (`radqa report monthly --month YYYY-MM`); the Drift "
            "page checks any month live."
        )
        return
    month, doc = found
    same = doc.get("snapshot_id") == snap.snapshot_id
    source = f"monthly report {month}" + ("" if same else f" (snapshot {doc.get('snapshot_id')})")
    alerts = doc.get("alerts", [])
    if not alerts:
        st.success(f"No open drift alerts in the {source}.", icon=":material/check_circle:")
        return
    st.error(
        f"{len(alerts)} open drift alert(s) in the {source}: see the Drift page for evidence.",
        icon=":material/warning:",
    )
    frame = pd.DataFrame(alerts)
    frame["group"] = [", ".join(f"{k}: {v}" for k, v in g.items()) for g in frame["group"]]
    cols = [c for c in ("rule", "metric", "group", "value", "threshold", "first_period", "periods")]
    st.dataframe(frame[[c for c in cols if c in frame]], hide_index=True, width="stretch")
