"""dashboard.bench.measure_pages, which `make bench` calls: it visits every page and filters."""

from __future__ import annotations

import pytest

from dashboard.bench import PAGES, measure_pages

pytestmark = pytest.mark.browser


def test_measure_pages_reports_every_page_and_the_filter_change(serve, demo_dir) -> None:  # noqa: ANN001
    result = measure_pages(serve(demo_dir))
    assert list(result["pages"]) == list(PAGES)
    for timing in result["pages"].values():
        assert set(timing) == {"first", "cached_first", "cached", "reload", "tabs"}
        assert timing["first"] > 0 and timing["cached"] > 0 and timing["reload"] > 0
        assert all(first > 0 and again > 0 for first, again in timing["tabs"].values())
    # every lazy tab but the first of each page is timed
    assert {title: list(t["tabs"]) for title, t in result["pages"].items() if t["tabs"]} == {
        "Overview": ["Trend"],
        "Sites & scanners": ["Forest plot: sites", "Forest plot: scanner models", "Table"],
        "Agreement": ["By group", "Reader vs reader"],
        "Drift": [
            "Score distribution",
            "Control charts",
            "New scanners & software",
            "Label completeness",
            "Estimated vs realised",
        ],
        "Data health": ["Quarantined rows", "Label completeness"],
    }
    change = result["filter_change"]
    assert change["sites"] == ["Busan Community Hospital", "Kobe Community Hospital"]
    assert change["uncached"] > 0 and change["cached"] > 0
    assert result["total_first"] == pytest.approx(
        sum(t["first"] for t in result["pages"].values()), abs=0.01
    )
