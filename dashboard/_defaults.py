"""What the landing view shows, named once for the pages and the post-publish warm-up.

No Streamlit here: ``dashboard/warmup.py`` runs in ``radqa ingest`` and must compute exactly
what the sidebar and the Overview ask for.
"""

from __future__ import annotations

import pandas as pd

#: Group columns the sidebar filters and the option lists cover.
FILTER_DIMS = (
    "site",
    "scanner_manufacturer",
    "scanner_model",
    "modality",
    "finding",
    "model_name",
    "model_version",
)
#: The Overview's grouping (KPI tiles and trend).
OVERVIEW_BY = ("model_name", "finding")
#: The trend's periods; the first is the default.
TREND_PERIODS = ("month", "quarter")


def models_by_data(summary: pd.DataFrame) -> list[str]:
    """The models of an Overview ``summary``, the one with the most labelled cases first (the
    Trend tab opens on it: a model whose every period is too small to estimate would open it on
    a message), then by name."""
    labelled = summary.groupby("model_name", observed=True)["n_labelled"].sum()
    names = summary["model_name"].astype(str).unique()
    return sorted(names, key=lambda m: (-int(labelled.get(m, 0)), m))
