"""KPI tiles as one block of HTML.

Sixty ``st.metric`` elements (ten model x finding groups of six) cost the browser about 0.3 s on
every rerun, more than the rest of the Overview together; the same tiles as one ``st.html``
element cost about 0.03 s. Each tile carries its label and value as data attributes (what the
tests and the browser bench read) and its method as a hover title.

A group's six tiles sit in two even rows of :data:`TILES_PER_ROW`. The grid used to fit as many
tiles of at least 8.5rem as the width took: at a 1280 x 800 window (the main column 820 px) that
was five and the kappa alone on a second row, and at 1400 x 900 six in tiles so narrow that every
CI wrapped onto two lines. Three a row leave a tile 262 px at 1280 and 302 px at 1400, where
"95% CI 97.3% – 98.5%" and a value like "100.0%" fit on one line each; on a narrow window (a
phone, a split screen) two a row, three even rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import streamlit as st

#: Tiles per row: a group's six KPIs in two even rows (a window narrower than 720 px: two).
TILES_PER_ROW = 3

STYLE = """
<style>
.radqa-kpis h3 { font-size: 1.5rem; font-weight: 600; margin: 1.2rem 0 0.2rem 0; padding: 0; }
.radqa-kpis .kpi-caption { color: rgba(49, 51, 63, 0.6); font-size: 0.875rem; margin-bottom: 0.6rem; }
.radqa-kpis .kpi-row { display: grid; grid-template-columns: repeat({tiles}, minmax(0, 1fr));
  gap: 1rem; }
@media (max-width: 720px) {
  .radqa-kpis .kpi-row { grid-template-columns: repeat(2, minmax(0, 1fr)); }
}
.radqa-kpis .kpi { border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 0.5rem;
  padding: 0.75rem 1rem; cursor: help; }
.radqa-kpis .kpi-label { font-size: 0.875rem; }
.radqa-kpis .kpi-value { font-size: 2.25rem; line-height: 1.3; }
.radqa-kpis .kpi-ci { color: rgba(49, 51, 63, 0.6); font-size: 0.8rem; }
</style>
""".replace("{tiles}", str(TILES_PER_ROW))


@dataclass(frozen=True)
class Tile:
    """One KPI: its label, the value as shown, its CI as shown and the hover text (method)."""

    label: str
    value: str
    ci: str
    help: str = ""


@dataclass(frozen=True)
class TileGroup:
    """A heading (e.g. model · finding), a caption (its n) and its tiles."""

    title: str
    caption: str
    tiles: tuple[Tile, ...]


def tiles_html(groups: list[TileGroup]) -> str:
    """The tiles of every group as one HTML block (values escaped)."""
    parts = [STYLE, '<div class="radqa-kpis">']
    for group in groups:
        parts.append(f'<h3 data-group="{escape(group.title)}">{escape(group.title)}</h3>')
        parts.append(f'<div class="kpi-caption">{escape(group.caption)}</div><div class="kpi-row">')
        for t in group.tiles:
            parts.append(
                f'<div class="kpi" title="{escape(t.help)}" data-label="{escape(t.label)}" '
                f'data-value="{escape(t.value)}"><div class="kpi-label">{escape(t.label)}</div>'
                f'<div class="kpi-value">{escape(t.value)}</div>'
                f'<div class="kpi-ci">{escape(t.ci)}</div></div>'
            )
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def show_tiles(groups: list[TileGroup]) -> None:
    """Draw the groups of tiles as one element."""
    st.html(tiles_html(groups))
