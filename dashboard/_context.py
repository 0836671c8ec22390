"""What every page needs: the user, the snapshot and the global filters.

``app.py`` builds the context on every run (before the page runs) and the pages fetch it with
:func:`page_context`, which also handles the empty states: no snapshot published, or a snapshot
without predictions, give a clear message instead of a blank page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from dashboard import _state
from dashboard._filters import describe, sidebar_filters
from dashboard.auth import User
from metrics import Filters
from radqa.errors import RadQAError

_KEY = "_radqa_context"


@dataclass(frozen=True)
class Context:
    user: User
    snap: _state.Snapshot | None
    filters: Filters
    problem: str | None  # why there is nothing to show, when there is nothing

    @property
    def no_predictions(self) -> bool:
        """A snapshot is there, without predictions (reads only, say): the one problem that
        comes with a snapshot."""
        return self.problem is not None and self.snap is not None


def build_context(user: User) -> Context:
    try:
        snap = _state.snapshot()
    except RadQAError as exc:
        ctx = Context(user, None, Filters(), f"No data to show yet: {exc}")
    else:
        if not _state.has_data(snap):
            ctx = Context(
                user,
                snap,
                Filters(),
                f"The snapshot {snap.snapshot_id or ''} has no predictions yet: load data with "
                "`radqa ingest predictions FILE` (and reads with `radqa ingest reads FILE`), "
                "or build the demo with `radqa demo`.",
            )
        else:
            ctx = Context(user, snap, sidebar_filters(snap), None)
    st.session_state[_KEY] = ctx
    return ctx


def page_context(
    title: str, *, without_predictions: bool = False, scope: str | None = None
) -> Context:
    """The page title, a caption with snapshot and filters, and the context; stops if empty.

    ``without_predictions``: the page also has something to show of a snapshot without
    predictions (Data health: the batches and reads loaded so far, since reads may come first);
    it then says why the other pages are empty and goes on. ``scope``: what the page covers,
    said instead of the filters for a page that does not apply them (Data health)."""
    st.title(title)
    ctx: Context | None = st.session_state.get(_KEY)
    if ctx is None:
        st.error("The page was opened without the RadQA app; start it with `radqa serve`.")
        st.stop()
    assert ctx is not None
    if ctx.problem and ctx.no_predictions and without_predictions:
        st.info(ctx.problem)
    elif ctx.problem or ctx.snap is None:
        st.info(ctx.problem or "No data.")
        st.stop()
    assert ctx.snap is not None
    st.caption(
        f"Snapshot {ctx.snap.snapshot_id or 'unpublished'}{_age(ctx.snap)} · "
        + (scope if scope is not None else f"filters: {describe(ctx.filters)}")
    )
    return ctx


def _age(snap: _state.Snapshot) -> str:
    if snap.published_at is None:
        return ""
    return f" published {snap.published_at:%Y-%m-%d %H:%M} UTC"


def snapshot_age(snap: _state.Snapshot) -> dt.timedelta | None:
    if snap.published_at is None:
        return None
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) - snap.published_at
