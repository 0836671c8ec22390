"""The dashboard in headless Chromium: every page renders, a filter changes a KPI and the URL."""

from __future__ import annotations

import pytest

from dashboard import _audit
from dashboard.bench import (
    PAGES,
    browser_page,
    choose_site,
    first_kpi,
    goto,
    open_page,
    open_tab,
    settle,
    site_options,
    tab_labels,
    wait_rendered,
)

pytestmark = pytest.mark.browser


def no_error(page) -> None:  # noqa: ANN001
    errors = [e.inner_text()[:2000] for e in page.locator('[data-testid="stException"]').all()]
    assert errors == []
    assert "Traceback" not in page.inner_text("body")


def test_every_page_and_a_filter(serve, demo_dir, artifacts) -> None:  # noqa: ANN001
    url = serve(demo_dir)
    # a tall window: Streamlit scrolls inside its own container, so the screenshot shows the
    # viewport only
    with browser_page(height=3400) as page:
        goto(page, url, "")
        no_error(page)
        before = first_kpi(page)
        settle(page)
        page.screenshot(path=artifacts / "overview.png", full_page=True)
        sites = site_options(page)
        assert len(sites) == 5
        choose_site(page, sites[0])
        after = first_kpi(page)
        assert after != before
        assert f"site={sites[0].replace(' ', '+')}" in page.url
        settle(page)
        page.screenshot(path=artifacts / "overview-filtered.png", full_page=True)
        for title, path in PAGES.items():
            if title == "Overview":
                continue
            open_page(page, title)
            no_error(page)
            # the filter persists across pages, in the sidebar and in the URL
            assert f"site={sites[0].replace(' ', '+')}" in page.url
            assert page.locator("h1").first.inner_text().startswith(title)
            name = path or "overview"
            settle(page)
            page.screenshot(path=artifacts / f"{name}.png", full_page=True)
            # every lazy tab of the page renders (each is a rerun that draws only its section)
            for label in tab_labels(page):
                open_tab(page, label)
                no_error(page)
                settle(page)
            if path == "sites":  # a CSV download lands in the audit log
                open_tab(page, "Table")
                # Streamlit's own table toolbar offers no download nor copy: it is not audited
                page.locator('[data-testid="stDataFrame"]').first.hover()
                toolbar = page.locator('[data-testid="stElementToolbar"] button')
                toolbar.first.wait_for()
                labels = [b.get_attribute("aria-label") for b in toolbar.all()]
                assert "Download as CSV" not in labels
                assert "Search" in labels
                with page.expect_download() as download:
                    page.get_by_role("button", name="Download CSV").click()
                assert download.value.suggested_filename == "sites-scanners.csv"
                wait_rendered(page)
                event = _audit.read_events(demo_dir)[-1]
                assert (event["who"], event["what"]) == ("local", "csv:sites-scanners")
                assert event["filters"].startswith(f"site: {sites[0]}; finding: ")
        # a shared link opens the same filtered view in a new session
        goto(page, url, "", f"?site={sites[0].replace(' ', '+')}")
        assert first_kpi(page) == after


def test_empty_database_in_the_browser(serve, empty_dir, artifacts) -> None:  # noqa: ANN001
    url = serve(empty_dir)
    with browser_page() as page:
        for path in ("", "sites", "drift", "health"):
            goto(page, url, path)
            wait_rendered(page)
            no_error(page)
            assert "has no predictions yet" in page.inner_text("body")
        settle(page)
        page.screenshot(path=artifacts / "empty.png", full_page=True)
