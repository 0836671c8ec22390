"""Drift alerts for the latest month, from ``metrics.monitor`` (shared by Overview and Drift)."""

from __future__ import annotations

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
    except AttributeError:
        return None, "missing"
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


def show_alert_banner(snap: _state.Snapshot) -> None:
    """Open alerts of the latest month at the top of a page."""
    month = latest_month(snap)
    if month is None:
        return
    result, why = run_monitor(snap, month)
    if result is None:
        if why == "missing":
            st.caption("Drift alerts will appear here once `metrics.monitor` is installed.")
        else:
            st.caption(f"No drift check for {month}: {why}")
        return
    alerts = alerts_frame(result)
    if alerts.empty:
        st.success(f"No open drift alerts for {month}.", icon=":material/check_circle:")
        return
    st.error(
        f"{len(alerts)} open drift alert(s) for {month}: see the Drift page.",
        icon=":material/warning:",
    )
    cols = [
        c
        for c in ("rule", "metric", "group", "value", "threshold", "first_period")
        if c in alerts.columns
    ]
    st.dataframe(alerts[cols] if cols else alerts, hide_index=True, width="stretch")
