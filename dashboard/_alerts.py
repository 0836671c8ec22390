"""Drift alerts: live from ``metrics.monitor`` (Drift page), or as the monthly report recorded
them (the Overview's banner, which must render in a moment even on 10M predictions)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import _charts, _state
from metrics import new_category_status as new_category_status  # the Drift page's, moved
from radqa.errors import RadQAError


def latest_month(snap: _state.Snapshot) -> str | None:
    months = _state.filter_options(snap).months
    return months[-1] if months else None


def months(snap: _state.Snapshot) -> list[str]:
    return list(_state.filter_options(snap).months)


#: The reference window when the user has not chosen one: the first six months of data.
DEFAULT_REFERENCE_MONTHS = 6


def reference_window(n_months: int = DEFAULT_REFERENCE_MONTHS) -> Any:
    return _state.metric_fn("ReferenceWindow").first_months(int(n_months))


def configured_reference(snap: _state.Snapshot) -> Any | None:
    """The reference window ``alert_rules.toml`` sets (its ``[reference]`` table), as the
    monthly report uses it; None when the file sets none (the Drift page then offers the first
    months of data). ConfigError for a broken file."""
    return _state.metric_fn("rules_file_reference")(snap.data_dir)


def alert_rules(snap: _state.Snapshot) -> tuple[Any, ...] | None:
    """The data dir's alert rules (``alert_rules.toml``, as the monthly report uses them), or
    None for the defaults when the file is absent. The dashboard never writes the file."""
    path = snap.data_dir / "alert_rules.toml"
    if not path.exists():
        return None
    return tuple(_state.metric_fn("load_rules")(path))


def run_monitor(
    snap: _state.Snapshot, month: str, reference: Any | None = None
) -> tuple[Any | None, str | None]:
    """``(result, None)`` or ``(None, why there is none)``; ``reference`` by default the first
    :data:`DEFAULT_REFERENCE_MONTHS` months of data."""
    try:
        reference = reference or reference_window()
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


def metric_words(metric: str) -> str:
    """A rule's metric as the monthly report names it: "AI positive rate", "Scanner model",
    "AI model version" (the report's ``PRETTY`` and ``NEW_WHAT``, in reports/_render.py),
    else the dashboard's label of the metric, else the key in words."""
    from reports import NEW_WHAT, PRETTY  # the report's own words

    words = PRETTY.get(metric) or NEW_WHAT.get(metric) or _charts.METRIC_LABELS.get(metric)
    words = words or metric.replace("_", " ")
    return words[:1].upper() + words[1:]


def alerts_table(result: Any) -> pd.DataFrame:
    """The alerts of a monitor ``result`` as the Drift page's table shows them: in the words of
    the monthly report's table of drifting groups (its rule, group, n, reference value, effect,
    95% CI or control limits and adjusted p, worded by reports/_render.py), the metric in words
    (:func:`metric_words`) and the method as the monitor names it (its label, with the
    multiplicity correction). Column keys are those of :data:`ALERT_COLUMNS`; the CSV download
    keeps :func:`alerts_frame`'s raw names."""
    from reports import count, effect_words, f2, group_words, interval_words, pval

    rows = result.alerts_as_dicts()
    if not rows:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    method = {r.name: r.method for r in result.rules}
    out = []
    for a in rows:  # one row per alert (a handful), not per study
        ev = a["evidence"]
        cell = {**ev, "value": a["value"], "method_key": method.get(a["rule"])}
        out.append(
            {
                "rule": a["rule"],
                "metric": metric_words(str(a["metric"])),
                "group": group_words({k: str(v) for k, v in a["group"].items()}),
                "n": count(ev.get("n")),
                "reference": f2(ev.get("reference_value")),
                "effect": effect_words(cell),
                "interval": interval_words(cell),
                "p_adjusted": pval(ev.get("p_adjusted")),
                "threshold": f"{a['threshold']:g}",
                "first_period": a["first_period"],
                "periods": a["periods"],
                "method": ev.get("method") or "",
            }
        )
    return pd.DataFrame(out, columns=list(ALERT_COLUMNS))


#: The Drift page's alerts table (:func:`alerts_table`): what drifted and where (wrapping in
#: tall rows), the effect, its interval and adjusted p first, in widths that add up to the
#: table's width inside its expander at a 1280 x 800 window (_columns.EXPANDER_WIDTH_1280; 14 px
#: text measured in Chromium plus 16 px padding: "limits 0.12 to 0.20" 118 px, "< 0.0001" 65,
#: "z = +3.20" 66); the threshold, the months and the method follow.
ALERT_COLUMNS = {
    "rule": st.column_config.TextColumn("Rule", width=140, pinned=True),
    "metric": st.column_config.TextColumn("Metric", width=110),
    "group": st.column_config.TextColumn(
        "Group", width=178, help="Where the rule drifted: AI model, finding, site, scanner"
    ),
    "n": st.column_config.TextColumn("n", width=50, help="Studies (or cases) this month"),
    "reference": st.column_config.TextColumn("Ref.", width=50, help="The reference window's value"),
    "effect": st.column_config.TextColumn(
        "Effect",
        width=72,
        help="The rule's measure: a difference of proportions, a relative change of volume, "
        "a distance; for a control chart a statistic in sigma units (z, C+ − C−, EWMA/sd)",
    ),
    "interval": st.column_config.TextColumn(
        "95% CI or limits",
        width=118,
        help="The effect's 95% CI; for a p-chart its control limits on the proportion scale",
    ),
    "p_adjusted": st.column_config.TextColumn(
        "p adj.", width=66, help="p-value adjusted for the rule's groups (none for a chart)"
    ),
    "threshold": st.column_config.TextColumn("Threshold", width=75),
    "first_period": st.column_config.TextColumn("First month", width=90),
    "periods": st.column_config.NumberColumn("Months running", format="%d", width=110),
    "method": st.column_config.TextColumn("Method", width="large"),
}


def alert_sentences(result: Any, month: str) -> list[str]:
    """The monthly report's sentence for each alert of a monitor ``result`` (its estimate,
    interval and n in words), in the alerts' order."""
    from reports import alert_readings  # the report's own wording, so the two read the same

    return alert_readings(result.alerts_as_dicts(), result.results, month, result.rules)


#: The columns of a report's alerts that the Overview's banner shows: ``reading`` is the
#: report's own sentence for the alert (its estimate, interval and n, in words), which a raw
#: value and threshold (0.2766 against 0) are not.
BANNER_COLUMNS = ("rule", "reading", "first_period", "periods")


@dataclass(frozen=True)
class ReportAlerts:
    """The alerts of one monthly drift report, as the Overview's banner shows them."""

    month: str
    snapshot_id: str | None
    alerts: pd.DataFrame  # BANNER_COLUMNS that the report has; no rows when no alert
    #: the month of the last study in the snapshot the report was computed on (None: unknown)
    last_data_month: str | None = None

    def has_data(self, last_month: str | None) -> bool:
        """Whether the report's month had happened in its own data and, given the snapshot's
        ``last_month``, in this one: a report for a later month (a typo, 2027 for 2026) counts
        the months in between as months without studies."""
        own = self.last_data_month is None or self.month <= self.last_data_month
        return own and (last_month is None or self.month <= last_month)


def latest_report_alerts(data_dir: Path, last_month: str | None = None) -> ReportAlerts | None:
    """The alerts of the newest readable monthly drift report in ``DATA_DIR/reports`` whose
    month has data (see :meth:`ReportAlerts.has_data`; ``last_month`` is the snapshot's last
    month with data), if any.

    A report's JSON (megabytes on a large store) is read once per file version (path,
    modification time and size); a rerun only lists the folder.
    """
    reports = sorted((data_dir / "reports").glob("drift-report-????-??.json"))
    for path in reversed(reports):
        try:
            stat = path.stat()
        except OSError:
            continue
        found = _read_report(str(path), stat.st_mtime_ns, stat.st_size)
        if found is not None and found.has_data(last_month):
            return found
    return None


@st.cache_data(show_spinner=False, max_entries=8)
def _read_report(path: str, mtime_ns: int, size: int) -> ReportAlerts | None:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    frame = pd.DataFrame(doc.get("alerts", []))
    readings = doc.get("readings", [])
    if not frame.empty and len(readings) == len(frame):
        frame["reading"] = readings
    elif not frame.empty and "group" in frame:  # a report written before readings were kept
        frame["reading"] = [", ".join(f"{k}: {v}" for k, v in g.items()) for g in frame["group"]]
    month = Path(path).stem.removeprefix("drift-report-")
    last_study = (doc.get("data_received") or {}).get("last_study")
    return ReportAlerts(
        month,
        doc.get("snapshot_id"),
        frame[[c for c in BANNER_COLUMNS if c in frame]],
        str(last_study)[:7] if last_study else None,
    )


def show_report_alerts(snap: _state.Snapshot) -> None:
    """The alerts of the latest monthly drift report at the top of the Overview.

    Monitoring every group over every month takes seconds on a large store; the committee acts
    on the monthly report, and the Drift page computes the current month live.
    """
    found = latest_report_alerts(snap.data_dir, latest_month(snap))
    if found is None:
        st.caption(
            f"No monthly drift report in {snap.data_dir / 'reports'}, where this page looks. "
            "`radqa report monthly --month YYYY-MM` (without `--out`) writes one there; the "
            "Drift page checks any month live."
        )
        return
    same = found.snapshot_id == snap.snapshot_id
    source = f"monthly report {found.month}" + ("" if same else f" (snapshot {found.snapshot_id})")
    if found.alerts.empty:
        st.success(f"No open drift alerts in the {source}.", icon=":material/check_circle:")
        return
    st.error(
        f"{len(found.alerts)} open drift alert(s) in the {source}: see the Drift page for "
        "evidence.",
        icon=":material/warning:",
    )
    show_alert_list(list(found.alerts["rule"]), list(found.alerts["reading"]))


#: Alerts listed in full under the banner before the rest are folded away.
BANNER_SHOWN = 5


def show_alert_list(rules: list[str], sentences: list[str]) -> None:
    """Alerts as a Markdown list of full sentences: the first :data:`BANNER_SHOWN`, the rest
    folded away (a table cell cuts such sentences short)."""
    lines = [f"- **{r}**: {t}" for r, t in zip(rules, sentences, strict=True)]
    st.markdown("\n".join(lines[:BANNER_SHOWN]))
    if len(lines) > BANNER_SHOWN:
        with st.expander(f"The other {len(lines) - BANNER_SHOWN} alert(s)"):
            st.markdown("\n".join(lines[BANNER_SHOWN:]))
