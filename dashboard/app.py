"""RadQA dashboard entry point: login gate, global filters, navigation.

Run with ``radqa serve`` (which sets RADQA_DATA_DIR). Pages live in ``dashboard/views/`` (not ``pages/``, which would switch Streamlit to its legacy multipage mode) and read
the shared context (user, snapshot, filters) that this script builds on every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` from a checkout
    sys.path.insert(0, str(ROOT))

from dashboard import auth  # noqa: E402
from dashboard._context import build_context  # noqa: E402
from dashboard._heap import freeze_imports  # noqa: E402
from radqa._first_page import page_drawn  # noqa: E402

PAGES = Path(__file__).resolve().parent / "views"

freeze_imports()  # the modules loaded so far stay out of the collection after every rerun

st.set_page_config(page_title="RadQA", page_icon=":material/monitoring:", layout="wide")
user = auth.gate()
ctx = build_context(user)

pages = {
    "Monitor": [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page(
            PAGES / "sites.py",
            url_path="sites",
            title="Sites & scanners",
            icon=":material/grid_on:",
        ),
        st.Page(
            PAGES / "agreement.py",
            url_path="agreement",
            title="Agreement",
            icon=":material/handshake:",
        ),
        st.Page(
            PAGES / "drift.py", url_path="drift", title="Drift", icon=":material/trending_down:"
        ),
    ],
    "Work": [
        st.Page(
            PAGES / "review.py",
            url_path="review",
            title="Case review",
            icon=":material/rate_review:",
        )
    ],
}
if user.can("admin"):
    pages["Admin"] = [
        st.Page(
            PAGES / "reports.py",
            url_path="reports",
            title="Reports & exports",
            icon=":material/description:",
        ),
        st.Page(
            PAGES / "health.py",
            url_path="health",
            title="Data health",
            icon=":material/monitor_heart:",
        ),
    ]
nav = st.navigation(pages)
with st.sidebar:
    if user.logged_in:
        # no name nor e-mail on a page (screenshots travel): the pseudonym the user's reviews
        # and audit entries carry
        roles = ", ".join(sorted(user.roles))
        st.caption(
            f"Logged in as {user.who} ({roles}): your pseudonym in reviews and the audit log"
            if user.identified
            else f"Logged in ({roles}), without a pseudonym: no pseudonymisation key here, so "
            "no review can be recorded"
        )
        st.button("Log out", on_click=st.logout, key="logout")
try:
    nav.run()
finally:
    page_drawn()  # the server's background thread may now load SciPy and statsmodels
