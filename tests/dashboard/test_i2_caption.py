"""The I² line under the Sites page's forest plots: with the Q-profile interval (metrics._meta),
an empty interval is NaN with a note; the line said "95% CI nan–nan%"."""

from __future__ import annotations

import math

import pandas as pd

from dashboard._heterogeneity import i2_caption
from metrics import heterogeneity


def _het(values: list[float], se: float) -> object:
    frame = pd.DataFrame({"label": [f"site {i}" for i in range(len(values))], "value": values})
    frame["se"] = se
    return heterogeneity(frame)


def test_an_empty_q_profile_interval_is_said_in_words() -> None:
    h = _het([0.800, 0.801, 0.799, 0.800], se=0.05)  # Q ~ 0.001 on 3 df: below chi2 0.025 (0.216)
    assert math.isnan(h.i2.low) and math.isnan(h.i2.high) and h.i2.value == 0.0
    line = i2_caption(h)
    assert line.startswith("I² = 0% (no 95% CI: the Q-profile interval is empty, as the groups ")
    assert "nan" not in line
    assert f"Cochran Q = {h.q:.1f} on 3 df" in line
    assert "I² (REML tau²) with Q-profile CI (Viechtbauer 2007)" in line


def test_an_interval_is_shown_in_percent() -> None:
    h = _het([0.70, 0.80, 0.90, 0.75], se=0.03)
    assert 0 < h.i2.low < h.i2.value < h.i2.high < 1
    assert i2_caption(h).startswith(
        f"I² = {100 * h.i2.value:.0f}% (95% CI {100 * h.i2.low:.0f}–{100 * h.i2.high:.0f}%), "
        f"Cochran Q = {h.q:.1f} on 3 df, "
    )
