"""Compute the dashboard's landing view right after a snapshot is published.

The QA committee's first page (the sidebar's filter choices and the Overview without filters)
reads a few grouped statistics over every prediction. :func:`warm` computes them once, in the
process that published the snapshot, with exactly the arguments the pages use; the results land
in the snapshot's result cache on disk (:mod:`metrics._cache`), so a dashboard started later,
or a restarted one, opens its first page from there instead of scanning the store. Any other
filter is computed when asked for. A test renders the Overview after :func:`warm` and checks
that nothing new had to be computed.

No Streamlit here: this runs in ``radqa ingest``, ``radqa demo`` and ``radqa publish``.
"""

from __future__ import annotations

from pathlib import Path

import metrics
from dashboard._defaults import FILTER_DIMS, OVERVIEW_BY, TREND_PERIODS, models_by_data
from metrics import Filters
from radqa import store
from radqa.settings import load_settings


def warm(data_dir: Path) -> int:
    """Compute the landing view's statistics for the published snapshot; the number of calls.

    Does nothing (0) when no snapshot is published or it holds no prediction.
    """
    data_dir = Path(data_dir)
    if not store.snapshot_path(data_dir).exists():
        return 0
    con = store.open_snapshot(data_dir)
    try:
        options = metrics.label_completeness(con, by=FILTER_DIMS, period="month")
        if options.empty:
            return 1
        summary = metrics.summarize(con, by=OVERVIEW_BY, filters=Filters())
        calls = 2
        if summary.empty:
            return calls
        models = models_by_data(summary)
        # the trend tab's first choice
        metrics.summarize(
            con, by=OVERVIEW_BY, filters=Filters(model_name=(models[0],)), period=TREND_PERIODS[0]
        )
        calls += 1
        claims = load_settings(data_dir).claims
        for model in models:  # the claims tab: every configured claim of a model shown
            for name, value in claims.get(model, {}).items():
                metrics.claim_check(
                    con,
                    metric=name,
                    claimed=float(value),
                    by=("finding",),
                    filters=Filters(model_name=(model,)),
                )
                calls += 1
        return calls
    finally:
        con.close()
