"""The Overview as a reviewer saw it in Chromium: at a 1280 x 800 window the KPI tiles wrapped
five and one, and the trend chart's CI bars of one month lay over each other."""

from __future__ import annotations

import re

import pytest

from dashboard.bench import browser_page, goto, open_tab, settle

pytestmark = pytest.mark.browser

#: Each tile row's tiles: their top edge, left edge, and whether their value and CI overflow
#: or wrap (a CI of one line is at most 1.5 of its line height).
TILES = """() => [...document.querySelectorAll('.radqa-kpis .kpi-row')].map(row =>
  [...row.querySelectorAll('.kpi')].map(t => {
    const r = t.getBoundingClientRect();
    const ci = t.querySelector('.kpi-ci'), v = t.querySelector('.kpi-value');
    const line = parseFloat(getComputedStyle(ci).lineHeight) || 1.2 * parseFloat(getComputedStyle(ci).fontSize);
    return {top: Math.round(r.top), left: Math.round(r.left), width: r.width,
            ciOneLine: ci.getBoundingClientRect().height <= 1.5 * line,
            uncut: ci.scrollWidth <= ci.clientWidth && v.scrollWidth <= v.clientWidth};
  }))"""


@pytest.mark.parametrize("size", [(1280, 800), (1400, 900)])
def test_tiles_in_two_even_rows(serve, demo_dir, size) -> None:  # noqa: ANN001
    url = serve(demo_dir)
    with browser_page(width=size[0], height=size[1]) as page:
        goto(page, url, "")
        # the tiles are HTML the script writes: wait for them as for any element (a clean
        # clone's run evaluated once before they were in the page)
        page.wait_for_selector(".radqa-kpis .kpi", timeout=120_000)
        settle(page)
        rows = page.evaluate(TILES)
        assert rows
        for tiles in rows:
            tops = sorted({t["top"] for t in tiles})
            assert len(tiles) == 6 and len(tops) == 2  # two rows ...
            assert [sum(t["top"] == top for t in tiles) for top in tops] == [3, 3]  # ... of 3
            assert all(t["ciOneLine"] and t["uncut"] for t in tiles), tiles
            assert min(t["width"] for t in tiles) > 250


def test_trend_series_side_by_side_within_a_month(serve, demo_dir) -> None:  # noqa: ANN001
    url = serve(demo_dir)
    with browser_page(width=1400, height=900) as page:
        goto(page, url, "")
        open_tab(page, "Trend")
        settle(page)
        # the first month's point of each finding: its x on the screen
        moves = page.evaluate(
            """() => [...document.querySelectorAll('.stPlotlyChart .scatterlayer .trace')]
                 .map(t => t.querySelector('.points path'))
                 .filter(p => p).map(p => p.getAttribute('transform'))"""
        )
        xs = [float(re.match(r"translate\(([-\d.]+),", m).group(1)) for m in moves]
        assert len(xs) >= 2
        # each series its own x within the month, at least 4 px apart
        gaps = [b - a for a, b in zip(sorted(xs), sorted(xs)[1:], strict=False)]
        assert min(gaps) >= 4, xs
