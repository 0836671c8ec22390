"""Browser timings of the dashboard, and the Playwright helpers the browser tests share.

:func:`measure_pages` drives Debian's Chromium (never a downloaded one) against a running
``radqa serve`` and times what a user waits for: the first render of every page, the same page
again (served from the cache), and a change of the site filter (first time: computed; second
time: cached). ``make bench`` calls it on a 10M-row database.

A page counts as rendered when Streamlit reports the script as not running and its running
indicator is gone (STACK-NOTES.md, "Browser tests").
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Page title -> URL path (st.Page url_path; the Overview is the default page at "/").
PAGES = {
    "Overview": "",
    "Sites & scanners": "sites",
    "Agreement": "agreement",
    "Drift": "drift",
    "Case review": "review",
    "Reports & exports": "reports",
    "Data health": "health",
}
DONE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING = '[data-testid="stStatusWidgetRunningIcon"]'
#: Visits from the cache whose median is reported (after the first one).
CACHED_ROUNDS = 3
#: The value of an Overview KPI tile (dashboard/_tiles.py).
KPI_VALUE = ".radqa-kpis .kpi-value"


@contextmanager
def browser_page(
    *, width: int = 1500, height: int = 1000, profile: str | None = None
) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium.

    ``profile`` names a user-data directory that outlives the browser: a later browser on the
    same directory starts with its HTTP cache (a returning user); without it every browser
    starts empty (a first-ever visit).
    """
    from playwright.sync_api import sync_playwright

    viewport = {"width": width, "height": height}
    with sync_playwright() as p:
        if profile is not None:
            context = p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport=viewport
            )
            try:
                yield context.pages[0] if context.pages else context.new_page()
            finally:
                context.close()
            return
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=viewport)
            yield context.new_page()
        finally:
            browser.close()


def wait_rendered(page: Any, *, timeout_ms: int = 300_000) -> None:
    """Wait until the script has finished and the running indicator is gone."""
    page.wait_for_selector(DONE, timeout=timeout_ms)
    page.wait_for_selector(RUNNING, state="detached", timeout=timeout_ms)
    page.wait_for_selector(DONE, timeout=timeout_ms)


def settle(page: Any, *, timeout_ms: int = 60_000) -> None:
    """After rendering: wait until every chart has drawn and no placeholder remains."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                   .every(c => c.querySelector('.main-svg'))
              && !document.querySelector('[data-testid="stSkeleton"]')""",
        timeout=timeout_ms,
    )


def goto(page: Any, base_url: str, path: str, query: str = "") -> float:
    """Open ``base_url/path`` and return the seconds until it is rendered."""
    start = time.perf_counter()
    # until Streamlit has rendered the page (the criterion), not until the browser's
    # load event, which also waits for every font and icon and can come 0.3-0.5 s later
    page.goto(f"{base_url.rstrip('/')}/{path}{query}", wait_until="commit")
    wait_rendered(page)
    return time.perf_counter() - start


def open_page(page: Any, title: str) -> float:
    """Click a page in the sidebar navigation (keeps the session); seconds until rendered."""
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_function(
        "t => document.querySelector('h1') && document.querySelector('h1').innerText.includes(t)",
        arg=title,
        timeout=300_000,
    )
    wait_rendered(page)
    return time.perf_counter() - start


def open_tab(page: Any, label: str) -> float:
    """Click the tab ``label`` (a lazy tab reruns the page); seconds until rendered."""
    start = time.perf_counter()
    page.locator('[role="tab"]', has_text=label).first.click()
    page.wait_for_function(
        """t => [...document.querySelectorAll('[role="tab"]')]
                 .some(e => e.innerText.trim() === t && e.getAttribute('aria-selected') === 'true')""",
        arg=label,
        timeout=300_000,
    )
    wait_rendered(page)
    return time.perf_counter() - start


def tab_labels(page: Any) -> list[str]:
    """The labels of the page's tabs, in order."""
    return [t.inner_text().strip() for t in page.locator('[role="tab"]').all()]


def first_kpi(page: Any) -> str:
    return page.locator(KPI_VALUE).first.inner_text()


def _open_dropdown(page: Any, box: Any) -> None:
    """Open a multiselect's list; retried, since a click during a rerun can be swallowed."""
    for _ in range(10):
        box.locator('[role="combobox"]').first.click()
        try:
            page.wait_for_selector('[role="option"]', timeout=2_000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError; try again
            page.keyboard.press("Escape")
            wait_rendered(page)
    raise RuntimeError("the multiselect did not open its list of options")


def choose_site(page: Any, site: str) -> float:
    """Replace the sidebar site filter by ``site``.

    Returns the seconds from the click on the option until the page is rendered again (removing
    the previous choice first is not timed).
    """
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    while box.locator('[aria-label^="Remove "]').count():
        box.locator('[aria-label^="Remove "]').first.click()
        wait_rendered(page)
    page.wait_for_function(
        "() => !new URLSearchParams(location.search).has('site')", timeout=300_000
    )
    _open_dropdown(page, box)
    start = time.perf_counter()
    page.locator('[role="option"]', has_text=site).first.click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "s => new URLSearchParams(location.search).getAll('site').includes(s)",
        arg=site,
        timeout=300_000,
    )
    wait_rendered(page)
    return time.perf_counter() - start


def site_options(page: Any) -> list[str]:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    _open_dropdown(page, box)
    options = [o.inner_text().strip() for o in page.locator('[role="option"]').all()]
    page.keyboard.press("Escape")
    return [o for o in options if o and o != "Select all"]


def measure_pages(base_url: str) -> dict[str, Any]:
    """Seconds a user waits, per page and for a filter change, in the real browser.

    Call it on a freshly started server for true cold numbers (the first page visit then
    includes opening the snapshot and filling the cache).

    Returns
    -------
    dict
        ``pages``: title -> ``{"first": s, "cached_first": s, "cached": s, "reload": s,
        "tabs": {label: [first s, cached s]}}``: the first visit (opening its URL); visits from
        the sidebar navigation, what a user does (the page comes from the cache): the first one
        in that browser page (which also loads the page's chart code, plotly.js, into it) and
        the median of the next ones; a full reload of its URL (the browser loads Streamlit's
        frontend again); and each lazy tab other than the first: its first opening, then again
        after going back to the first tab. ``filter_change``: ``{"uncached": s, "cached": s,
        "sites": [a, b]}``: the Overview with the site filter set to a site never asked for,
        then (median of 3) back to it after another site; ``total_first`` (sum of first visits).
    """
    out: dict[str, Any] = {"pages": {}}
    with browser_page() as page:
        first_overview = goto(page, base_url, "")
        for title, path in PAGES.items():
            first = first_overview if title == "Overview" else goto(page, base_url, path)
            reload = goto(page, base_url, path)
            out["pages"][title] = {"first": round(first, 3), "reload": round(reload, 3)}
        goto(page, base_url, "")
        rounds: dict[str, list[float]] = {title: [] for title in PAGES}
        for _ in range(1 + CACHED_ROUNDS):  # each page again, from the sidebar
            for title in [*list(PAGES)[1:], "Overview"]:
                rounds[title].append(open_page(page, title))
        for title, times in rounds.items():
            out["pages"][title]["cached_first"] = round(times[0], 3)
            out["pages"][title]["cached"] = round(statistics.median(times[1:]), 3)
        for title in PAGES:  # every other tab of each page: first opened, then from the cache
            open_page(page, title)
            labels = tab_labels(page)
            tabs = {}
            for label in labels[1:]:
                first = open_tab(page, label)
                open_tab(page, labels[0])
                tabs[label] = [round(first, 3), round(open_tab(page, label), 3)]
            out["pages"][title]["tabs"] = tabs
        goto(page, base_url, "")
        sites = site_options(page)[:2]
        if len(sites) == 2:
            uncached = choose_site(page, sites[0])
            again = []
            for _ in range(CACHED_ROUNDS):
                choose_site(page, sites[1])
                again.append(choose_site(page, sites[0]))
            cached = statistics.median(again)
            out["filter_change"] = {
                "uncached": round(uncached, 3),
                "cached": round(cached, 3),
                "sites": sites,
            }
    out["total_first"] = round(sum(p["first"] for p in out["pages"].values()), 3)
    return out
