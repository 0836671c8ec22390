"""The I² line under a forest plot (Sites & scanners page)."""

from __future__ import annotations

import math

from dashboard import _charts
from metrics import Heterogeneity


def i2_caption(h: Heterogeneity) -> str:
    """I² with its Q-profile interval, Cochran's Q and the pooled value's method.

    When Q is below even the lower chi² quantile the Q-profile interval is empty (metafor's
    "null set"): the line says so in words instead of showing "nan–nan%" or a made-up 0–0%.
    """
    i2 = h.i2
    if math.isnan(i2.value):
        shown = f"I² not estimable ({i2.note})" if i2.note else "I² not estimable"
    elif math.isnan(i2.low) or math.isnan(i2.high):
        shown = (
            f"I² = {100 * i2.value:.0f}% (no 95% CI: the Q-profile interval is empty, as the "
            "groups agree more closely than their standard errors predict)"
        )
    else:
        shown = f"I² = {100 * i2.value:.0f}% (95% CI {100 * i2.low:.0f}–{100 * i2.high:.0f}%)"
    return (
        f"{shown}, Cochran Q = {h.q:.1f} on {h.q_df} df, {_charts.fmt_p(h.q_p_value)}; "
        f"{i2.method.replace('^2', '²')}; pooled: {h.random_reml.method}"
    )
