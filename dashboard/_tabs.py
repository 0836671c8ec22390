"""Lazy tabs: a page's sections behind tabs, of which only the open one is computed and drawn.

``st.tabs(..., on_change="rerun")`` reruns the page when a tab is chosen and tells which tab is
open (``tab.open``). Each plotly chart costs the browser 0.1-0.2 s and a section may query the
store, so a page view draws one section, not all of them; the others are a click away.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def lazy_tabs(key: str, sections: dict[str, Callable[[], None]]) -> None:
    """One tab per section (label -> function drawing it); only the open tab's function runs.

    The first section is open when the page is first shown; ``key`` keeps the choice on reruns
    (tests open a tab with ``session_state[key] = label``).
    """
    tabs = st.tabs(list(sections), key=key, on_change="rerun")
    for tab, show in zip(tabs, sections.values(), strict=True):
        if tab.open:
            with tab:
                show()
