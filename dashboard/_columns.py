"""Column labels and number formats of the dashboard's tables of estimates (a CSV download
keeps the raw names)."""

from __future__ import annotations

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


def whole(label: str, texts: Iterable[object], *, least: int = 0) -> object:
    """A text column as wide as the longest of ``texts`` (at least ``least`` px), so that none
    is cut: for a column after a table's answer columns, which may widen to the right."""
    return st.column_config.TextColumn(label, width=max(least, text_width(texts)))


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
            config[col] = st.column_config.NumberColumn(label, format="percent")
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
