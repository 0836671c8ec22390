"""Column labels and number formats of the dashboard's tables of estimates (a CSV download
keeps the raw names)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from dashboard import _charts

#: The row height (px) of a table whose text cells wrap: st.dataframe wraps a cell's text only
#: in rows taller than 4rem (64 px; Streamlit 1.67's DataFrame component); 68 px hold three
#: lines, so a reason of about 150 characters fits a "large" (400 px) column.
WRAP_ROW_HEIGHT = 68

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
