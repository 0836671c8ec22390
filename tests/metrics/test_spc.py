"""SPC charts: the recursions and limits of Montgomery (2013) on hand-worked series."""

from __future__ import annotations

import numpy as np
import pytest

from metrics._spc import cusum, ewma, p_chart_limits, standardized_deviation


def test_cusum_hand_worked() -> None:
    cp, cm = cusum([0.0, 2.0, 2.0, 2.0, -1.0])
    assert cp.tolist() == [0.0, 1.5, 3.0, 4.5, 3.0]  # signals (> h = 4) at the fourth month
    assert cm.tolist() == [0.0, 0.0, 0.0, 0.0, 0.5]


def test_ewma_limits_converge_to_asymptotic() -> None:
    w, lim = ewma(np.zeros(60))
    assert lim[0] == pytest.approx(3 * 0.2)  # sqrt(lam/(2-lam) * (1-(1-lam)^2)) = lam
    assert lim[-1] == pytest.approx(3 * np.sqrt(0.2 / 1.8))
    assert np.all(np.diff(lim) > 0) and np.all(w == 0)


def test_missing_month_keeps_state() -> None:
    w, lim = ewma([1.0, np.nan, 1.0])
    assert w[1] == w[0] and lim[1] == lim[0] and w[2] == pytest.approx(0.36)


def test_p_chart_and_z() -> None:
    centre, lcl, ucl = p_chart_limits(0.1, [100, 400])
    assert lcl.tolist() == pytest.approx([0.01, 0.055]) and ucl.tolist() == pytest.approx(
        [0.19, 0.145]
    )
    assert float(standardized_deviation(19, 100, 0.1)) == pytest.approx(3.0)
