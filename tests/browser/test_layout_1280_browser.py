"""Tables at a 1280 x 800 window as Chromium draws them (a reviewer's screenshots: Case review's
study UID began at the table's right edge, so reading one took a horizontal scroll; in Drift ›
New scanners & software, "Seoul National University Hospital" took four lines of the 90 px site
column in rows that hold three, and "Hospital" was cut).

The page sets the column widths and the row height (read here with AppTest on the same demo);
Chromium measures each shown cell's text in the table's own font, wrapped as the table wraps
it, and the rows must hold every line.
"""

from __future__ import annotations

import contextlib

import pytest

from dashboard._columns import TABLE_WIDTH_1280, wrapped_lines
from dashboard.bench import PAGES, browser_page, goto, open_tab, settle, tab_labels
from tests.dashboard.conftest import app  # noqa: F401 - the fixture
from tests.dashboard.conftest import open_tab as open_app_tab
from tests.dashboard.test_table_widths import layout

pytestmark = pytest.mark.browser

#: For the ``index``-th table of the page (from the end when negative): its canvas' width, the
#: font's line height and the cells' vertical padding, and each shown cell's text with the lines
#: it takes in its column's width (``widths``, in the table's column order): words are kept
#: whole on a line where they fit, a longer word is broken between characters (glide-data-grid's
#: wrapping; measureText with the grid's font, as it draws).
CELL_LINES = """([widths, index]) => {
  const grids = [...document.querySelectorAll('[data-testid="stDataFrame"]')];
  const grid = grids[index < 0 ? grids.length + index : index];
  const style = grid.querySelector('.stDataFrameGlideDataEditor').style;
  const v = name => style.getPropertyValue(name).trim();
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = v('--gdg-base-font-style') + ' ' + v('--gdg-font-family');
  const px = t => ctx.measureText(t).width;
  const pad = parseFloat(v('--gdg-cell-horizontal-padding'));
  const lines = (text, width) => {
    const room = width - 2 * pad;
    let n = 1, line = '';
    for (const word of text.split(/\\s+/).filter(w => w)) {
      const joined = line ? line + ' ' + word : word;
      if (px(joined) <= room) { line = joined; continue; }
      if (line) { n += 1; line = ''; }
      if (px(word) <= room) { line = word; continue; }
      for (const c of word) {
        if (line && px(line + c) > room) { n += 1; line = ''; }
        line += c;
      }
    }
    return n;
  };
  const m = ctx.measureText('ABCi09jgqpy');
  return {
    canvas: grid.querySelector('canvas').getBoundingClientRect().width,
    lineHeight: 1.4 * (m.actualBoundingBoxAscent + m.actualBoundingBoxDescent),
    vpad: parseFloat(v('--gdg-cell-vertical-padding')),
    cells: [...grid.querySelectorAll('td[data-testid^="glide-cell-"]')].map(td => {
      const [col, row] = td.dataset.testid.split('-').slice(2).map(Number);
      return {col, row, text: td.textContent, lines: lines(td.textContent, widths[col])};
    }),
  };
}"""


def drawn(page, widths: list[int], index: int) -> dict:  # noqa: ANN001
    page.wait_for_selector('[data-testid="stDataFrame"] td', state="attached", timeout=120_000)
    settle(page)
    return page.evaluate(CELL_LINES, [widths, index])


def assert_rows_hold(seen: dict, names: list[str], widths: list[int], row: int, wrap: set) -> None:
    """Every shown cell of the columns ``wrap``: its lines fit the row, and the page's estimate
    of them (``wrapped_lines``) is no fewer than Chromium's."""
    cells = [c for c in seen["cells"] if names[c["col"]] in wrap]
    assert {names[c["col"]] for c in cells} == wrap
    for c in cells:
        assert c["lines"] * seen["lineHeight"] + 2 * seen["vpad"] <= row, c
        assert c["lines"] <= wrapped_lines(c["text"], widths[c["col"]]), c


def test_case_review_study_uid_whole_in_view(serve, demo_dir, app) -> None:  # noqa: ANN001, F811
    table = app(demo_dir, "views/review.py").dataframe[0]
    names = [n for n, _, _ in layout(table)]
    widths = [w if isinstance(w, int) else 0 for _, w, _ in layout(table)]
    uids = list(table.value["study_uid"])
    url = serve(demo_dir)
    with browser_page(width=1280, height=800) as page:
        goto(page, url, "review")
        seen = drawn(page, widths, 0)
    # the table's 818 px inside its borders, and the UID's column ends within them
    assert seen["canvas"] == TABLE_WIDTH_1280
    assert sum(widths[: names.index("study_uid") + 1]) <= seen["canvas"]
    # each shown UID whole, as loaded (users copy it), on the lines its rows hold
    shown = [c["text"] for c in seen["cells"] if names[c["col"]] == "study_uid"]
    assert len(shown) >= 5 and shown == uids[: len(shown)]
    assert max(c["lines"] for c in seen["cells"] if names[c["col"]] == "study_uid") == 2
    wrap = {"kind", "finding", "model_name", "ref_label", "study_uid"}
    assert_rows_hold(seen, names, widths, table.proto.row_height, wrap)


def test_drift_new_values_long_site_whole(serve, demo_dir, app) -> None:  # noqa: ANN001, F811
    at = open_app_tab(app(demo_dir, "views/drift.py"), "dr_tab", "New scanners & software")
    table = at.dataframe[-1]
    names = [n for n, _, _ in layout(table)]
    widths = [int(w) for _, w, _ in layout(table)]  # type: ignore[call-overload]
    url = serve(demo_dir)
    with browser_page(width=1280, height=800) as page:
        goto(page, url, "drift")
        open_tab(page, "New scanners & software")
        seen = drawn(page, widths, -1)
    assert seen["canvas"] == TABLE_WIDTH_1280 and sum(widths) <= seen["canvas"]
    sites = [c for c in seen["cells"] if names[c["col"]] == "site"]
    seoul = [c for c in sites if c["text"] == "Seoul National University Hospital"]
    assert seoul and {c["lines"] for c in seoul} == {3}  # four lines in the 90 px it had
    wrap = {"rule", "site", "scanner_or_model", "category", "status", "reason"}
    assert_rows_hold(seen, names, widths, table.proto.row_height, wrap)


#: Each drawn chart's title and how far (px) it runs past the chart's right edge.
TITLES = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
  .filter(c => c.querySelector('.gtitle')).map(c => ({
    title: c.querySelector('.gtitle').textContent,
    over: c.querySelector('.gtitle').getBoundingClientRect().right
          - c.querySelector('.main-svg').getBoundingClientRect().right,
  }))"""


def test_every_chart_title_within_its_chart(serve, demo_dir) -> None:  # noqa: ANN001
    """The Sites heatmap's title ran 30 px past the chart and was cut ("grey: insufficien")."""
    url = serve(demo_dir)
    seen = []
    with browser_page(width=1280, height=800) as page:
        for path in PAGES.values():
            goto(page, url, path)
            labels = tab_labels(page) or [""]
            for i, label in enumerate(labels):
                if i:
                    open_tab(page, label)
                settle(page)
                with contextlib.suppress(Exception):  # a chart drawn before its resize: wait
                    page.wait_for_function(
                        f"() => ({TITLES})().every(t => t.over <= 0)", timeout=10_000
                    )
                seen += [(path, label, t["title"], t["over"]) for t in page.evaluate(TITLES)]
    titles = [title for _, _, title, _ in seen]
    assert any(t.startswith("Sensitivity by site × scanner model") for t in titles)
    assert len(seen) >= 8  # nine in the test demo
    assert [s for s in seen if s[3] > 0] == []
