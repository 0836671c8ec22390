"""What the landing view shows, named once for the pages and the post-publish warm-up.

No Streamlit here: ``dashboard/warmup.py`` runs in ``radqa ingest`` and must compute exactly
what the sidebar and the Overview ask for.
"""

from __future__ import annotations

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
