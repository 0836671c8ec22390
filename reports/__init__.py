"""RadQA reports layer. Besides the reports, the words they give a drift alert's metric, group,
effect and interval, which the Drift page's alerts table shares so that the two read the same."""

from reports._render import (
    NEW_WHAT,
    PRETTY,
    alert_readings,
    count,
    effect_words,
    f2,
    group_words,
    interval_words,
    pval,
)

__all__ = [
    "NEW_WHAT",
    "PRETTY",
    "alert_readings",
    "count",
    "effect_words",
    "f2",
    "group_words",
    "interval_words",
    "pval",
]
