"""Global filters: sidebar widgets that persist across pages and live in the URL query string.

The query string is the source of truth when a session starts (a shared link opens the same
view); afterwards the widgets are, and every run writes their values back to ``st.query_params``.
Query keys: ``from`` / ``to`` (YYYY-MM-DD) and one repeated key per list filter, e.g.
``?site=North&site=South&finding=pneumothorax``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import streamlit as st

from dashboard._state import FilterOptions, Snapshot, call, filter_options
from metrics import Filters

#: Filter field -> sidebar label (the order of the sidebar).
LIST_FILTERS = {
    "site": "Site",
    "scanner_manufacturer": "Scanner manufacturer",
    "scanner_model": "Scanner model",
    "modality": "Modality",
    "finding": "Finding",
    "model_version": "Model version",
}
_INIT = "_filters_initialised"


def _parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def month_bounds(months: list[str]) -> tuple[dt.date, dt.date]:
    """First day of the first month and last day of the last month."""
    first = dt.date.fromisoformat(months[0] + "-01")
    last_start = dt.date.fromisoformat(months[-1] + "-01")
    nxt = (last_start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def _init_from_query(opts: FilterOptions, lo: dt.date, hi: dt.date) -> None:
    """Seed the widget state from the URL once per session."""
    if st.session_state.get(_INIT):
        return
    qp = st.query_params
    for field in LIST_FILTERS:
        valid = set(opts.of(field))
        st.session_state[f"f_{field}"] = [v for v in qp.get_all(field) if v in valid]
    start = _parse_date(qp.get("from")) or lo
    end = _parse_date(qp.get("to")) or hi
    start, end = max(lo, min(start, hi)), min(hi, max(end, lo))
    st.session_state["f_dates"] = (start, end) if start <= end else (lo, hi)
    st.session_state[_INIT] = True


def sidebar_filters(snap: Snapshot) -> Filters:
    """Draw the filters in the sidebar and return them; sync the query string."""
    opts = filter_options(snap)
    if opts.empty:
        return Filters()
    months = list(opts.months)
    lo, hi = month_bounds(months) if months else (dt.date(2000, 1, 1), dt.date.today())
    _init_from_query(opts, lo, hi)
    side = st.sidebar
    side.header("Filters")
    dates = side.date_input(
        "Study date", key="f_dates", min_value=lo, max_value=hi, format="YYYY-MM-DD"
    )
    values: dict[str, tuple[str, ...]] = {}
    for field, label in LIST_FILTERS.items():
        values[field] = tuple(
            side.multiselect(label, opts.of(field), key=f"f_{field}", placeholder="All")
        )
    start, end = (
        (tuple(dates) + (None, None))[:2] if isinstance(dates, tuple | list) else (dates, dates)
    )
    if start is not None and end is None:  # the user has picked only the first day so far
        end = hi
    filters = Filters(
        date_from=start if start and start > lo else None,
        date_to=end if end and end < hi else None,
        **values,
    )
    _write_query(filters)
    side.button("Reset filters", key="f_reset", on_click=reset)
    return filters


def _write_query(filters: Filters) -> None:
    wanted: dict[str, str | list[str]] = {}
    if filters.date_from:
        wanted["from"] = filters.date_from.isoformat()
    if filters.date_to:
        wanted["to"] = filters.date_to.isoformat()
    for field in LIST_FILTERS:
        if getattr(filters, field):
            wanted[field] = list(getattr(filters, field))
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    normal = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if current != normal:
        st.query_params.clear()  # from_dict({}) leaves the old keys in place
        if wanted:
            st.query_params.from_dict(wanted)


def reset() -> None:
    """Button callback: clear every filter and the query string (the rerun follows)."""
    for key in [k for k in st.session_state if str(k).startswith("f_") and k != "f_reset"]:
        del st.session_state[key]
    st.session_state[_INIT] = False
    st.query_params.clear()


def describe(filters: Filters) -> str:
    """A short text of the active filters, for captions and exports."""
    active = filters.active()
    if not active:
        return "all data"
    parts = []
    for name, value in active.items():
        shown = ", ".join(value) if isinstance(value, tuple) else str(value)
        parts.append(f"{name.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def model_finding_picker(snap: Snapshot, filters: Filters, *, key: str) -> Filters | None:
    """A page-level choice of one model and finding (pooling them makes no sense).

    Offers only the model · finding pairs that have predictions under every sidebar filter
    (site, scanner, modality, dates, ...): a GC85A radiography room offers the chest X-ray
    models, not CT-ICH. A choice that the filters no longer offer falls back to the first pair.
    Returns the filters narrowed to that model and finding, or None when nothing matches.
    """
    present = call("label_completeness", snap, by=("model_name", "finding"), filters=filters)
    pairs = sorted(
        {
            (str(m), str(f))
            for m, f, n in zip(present["model_name"], present["finding"], present["n"], strict=True)
            if n
        }
    )
    if not pairs:
        return None
    labels = [f"{m} · {f}" for m, f in pairs]
    if st.session_state.get(key) not in labels:
        st.session_state[key] = labels[0]
    label = st.selectbox(
        "Model · finding",
        labels,
        key=key,
        help="Only the models and findings with predictions under the sidebar filters.",
    )
    model, finding = pairs[labels.index(label)]
    return replace(filters, model_name=(model,), finding=(finding,))
