"""A flag the dashboard raises once it has drawn a page (read by :mod:`radqa._streamlit_server`).

The server's background thread waits for it before importing SciPy and statsmodels, so that
those imports (about 1.3 s of the interpreter's time) neither delay nor slow the first page.
"""

from __future__ import annotations

import threading

DRAWN = threading.Event()


def page_drawn() -> None:
    """Record that a page has been drawn (cheap; called after every run)."""
    DRAWN.set()
