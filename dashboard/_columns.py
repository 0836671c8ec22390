"""Column labels and number formats of the dashboard's tables of estimates (a CSV download
keeps the raw names)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

import pandas as pd
import streamlit as st

from dashboard import _charts

#: The row height (px) of a table whose text cells wrap: st.dataframe wraps a cell's text only
#: in rows taller than 4rem (64 px; Streamlit 1.67's DataFrame component); 68 px hold three
#: lines, so a reason of about 150 characters fits a "large" (400 px) column.
WRAP_ROW_HEIGHT = 68

#: The inner width (px) of a table (``st.dataframe(width="stretch")``) in the page's main column
#: with the sidebar open, measured in Chromium on the demo: 818 at a 1280 x 800 window (the
#: table's element is 820 px, 1 px borders), 938 at 1400 x 900. The columns that carry a table's
#: answer (estimate, CI, verdict or status, reason) are given widths that add up to at most
#: ``TABLE_WIDTH_1280`` and come first, so that they are in view without scrolling; counts,
#: methods and ids follow.
TABLE_WIDTH_1280 = 818
TABLE_WIDTH_1400 = 938
#: The inner width (px) of a table inside an ``st.expander`` at a 1280 x 800 window: the
#: expander's 1 px borders and 1rem padding a side take 34 px of the main column's 820.
EXPANDER_WIDTH_1280 = 784

#: The width (px) a character of a table's text takes at most, on average over a name or an id:
#: 14 px Source Sans measured in Chromium is 5.9 px a character for "Seoul National University
#: Hospital" (200 px), 6.2 for a study UID's digits and dots, 6.4 for "intracranial_haemorrhage";
#: 7 errs on the side of a text that fits. A cell pads its text by 8 px a side.
CHAR_PX = 7
CELL_PADDING = 16


def text_width(texts: Iterable[object]) -> int:
    """The width (px) of a column that shows the longest of ``texts`` on one line, uncut."""
    longest = max((len(str(t)) for t in texts if isinstance(t, str)), default=0)
    return CELL_PADDING + CHAR_PX * longest


def fits(texts: Iterable[object], width: int) -> bool:
    """Whether every one of ``texts`` fits a column ``width`` px wide on one line; else the
    table needs rows that wrap (:data:`WRAP_ROW_HEIGHT`)."""
    return text_width(texts) <= width


#: The advance of each printable ASCII character (" " to "~") in the tables' 14 px Source Sans,
#: in tenths of a pixel rounded up, measured in Chromium with canvas measureText (what the table
#: draws with): their sum is a text's width ("Seoul National University Hospital": 199.3 px
#: measured, 201.4 summed; "1.2.410.200062.7202.202512.325": 187.9 and 189.0).
_ADVANCE = (
    "28 41 60 70 70 116 86 35 43 43 59 70 35 44 35 49 70 70 70 70 70 70 70 70 70 70 35 35 70 70 "
    "70 60 119 77 83 80 87 74 70 87 92 37 68 82 69 102 91 93 80 93 80 75 76 91 73 111 72 67 76 "
    "43 49 43 70 70 76 71 78 64 78 70 41 71 77 35 35 70 36 117 77 76 78 78 49 59 48 77 66 101 "
    "63 66 60 43 34 43 70"
)
GLYPH_PX = {chr(32 + i): int(tenths) / 10 for i, tenths in enumerate(_ADVANCE.split())}
#: A character outside that table: a wide East Asian one takes the font's em (14 px), any other
#: one as much as the widest letter (12 px: an accented or Cyrillic letter is narrower).
WIDE_PX, OTHER_PX = 14.0, 12.0
#: A wrapped text's line: 1.4 x the 13 px its glyphs span (glide-data-grid's line height), and
#: the rows that hold ``n`` lines: 35 px one (rows under 64 px do not wrap), 68 px up to three,
#: 22 px a line more (90 px hold four; 3 px padding top and bottom).
LINE_PX = 18.2
ONE_LINE_ROW_HEIGHT = 35


def text_px(text: str) -> float:
    """The width (px) ``text`` takes on one line of a table cell, its padding not included."""
    return sum(
        GLYPH_PX.get(c) or (WIDE_PX if unicodedata.east_asian_width(c) in "WF" else OTHER_PX)
        for c in text
    )


def wrapped_lines(text: object, width: int) -> int:
    """The lines ``text`` takes in a wrapping column ``width`` px wide: broken at spaces, and a
    word longer than a line between any two characters (as the table breaks a study UID)."""
    room = width - CELL_PADDING
    lines, used = 1, 0.0
    for word in str(text).split() if isinstance(text, str) else []:
        px = text_px(word)
        if used and used + GLYPH_PX[" "] + px <= room:
            used += GLYPH_PX[" "] + px
            continue
        if used:
            lines, used = lines + 1, 0.0
        for c in word if px > room else [word]:  # a long word: character by character
            step = text_px(c)
            if used and used + step > room:
                lines, used = lines + 1, 0.0
            used += step
    return lines


def row_height(lines: int) -> int:
    """The row height (px) that holds ``lines`` lines of wrapped text."""
    return ONE_LINE_ROW_HEIGHT if lines <= 1 else max(WRAP_ROW_HEIGHT, 2 + 22 * lines)


def rows_holding(table: pd.DataFrame, widths: Mapping[str, int]) -> int:
    """The row height that holds every text of ``table``'s columns in ``widths`` (name -> px)
    whole, wrapped where a text is longer than its column."""
    lines = [
        wrapped_lines(text, width)
        for col, width in widths.items()
        if col in table.columns
        for text in set(table[col].dropna())
    ]
    return row_height(max(lines, default=1))


def whole(label: str, texts: Iterable[object], *, least: int = 0) -> object:
    """A text column as wide as the longest of ``texts`` (at least ``least`` px), so that none
    is cut: for a column after a table's answer columns, which may widen to the right."""
    return st.column_config.TextColumn(label, width=max(least, text_width(texts)))


#: A share's step: Streamlit's "percent" format shows a value's digits past its step's, less
#: two: 0.001 is one decimal ("87.0%"). Without a step it shows up to two, trailing zeros
#: dropped: "87%" above "85.84%" and "89.8%" in one column, beside CIs and tiles of one decimal.
PERCENT_STEP = 0.001


def percent(label: str, **kwargs: object) -> object:
    """A column of shares (0-1) shown in % to one decimal, like the tiles and the CI texts."""
    return st.column_config.NumberColumn(
        label,
        format="percent",
        step=PERCENT_STEP,
        **kwargs,  # type: ignore[arg-type]
    )


def shares_rounded(table: pd.DataFrame, config: Mapping[str, object]) -> pd.DataFrame:
    """``table`` with its :func:`percent` columns (in ``config``) rounded to the step: the grid
    cuts a value's digits past the step (0.8178 showed as "81.7%"), so it gets 0.818 ("81.8%").
    For the page only: a CSV download keeps the unrounded values."""
    shares = [
        col
        for col, c in config.items()
        if col in table.columns
        and isinstance(c, Mapping)
        and c.get("type_config", {}).get("format") == "percent"
    ]
    return table.assign(**{col: table[col].round(3) for col in shares})


COEFFICIENTS = ("auc", "kappa", "fleiss_kappa", "ac1")  # shown to 3 decimals
COUNTS = ("n", "pending", "n_labelled", "tp", "fp", "fn", "tn", "n_items", "n_items_3")


def column_config(table: pd.DataFrame, labels: Mapping[str, str]) -> dict[str, object]:
    """Each column of ``table`` labelled in words (``labels``, else the metric's label, else its
    name), a CI bound as "<label>, 95% CI low"; proportions and agreement as %, coefficients to
    3 decimals, counts with thousands separators."""
    config: dict[str, object] = {}
    for col in table.columns:
        base, _, end = col.rpartition("_") if col.endswith(("_low", "_high")) else (col, "", "")
        name = (
            labels.get(col)
            or labels.get(base)
            or _charts.METRIC_LABELS.get(base)
            or base.replace("_", " ").capitalize()
        )
        label = f"{name}, 95% CI {end}" if end else name
        if base in _charts.PROPORTION_METRICS or base == "agreement":
            config[col] = percent(label)
        elif base in COEFFICIENTS:
            config[col] = st.column_config.NumberColumn(label, format="%.3f")
        elif base in COUNTS:
            config[col] = st.column_config.NumberColumn(label, format="localized")
        else:
            config[col] = st.column_config.Column(label)
    return config


def ci_text(low: pd.Series, high: pd.Series, metric: str) -> list[str]:
    """Each row's 95% CI as one text cell, "0.262 – 0.390" (or "–" without one), in the
    format of ``metric`` (a proportion as %, a coefficient to 3 decimals)."""
    return [
        _charts.fmt_ci(lo, hi, metric).removeprefix("95% CI ").removeprefix("CI ")
        for lo, hi in zip(low, high, strict=True)
    ]
