"""Periods and reference windows."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics import Period, ReferenceWindow
from metrics._periods import month_range
from radqa.errors import InputError


def test_rolling_period() -> None:
    p = Period("2025-01").rolling(2)
    assert p.months_covered == ["2024-12", "2025-01"]
    assert (p.start, p.end) == (dt.date(2024, 12, 1), dt.date(2025, 2, 1))
    assert month_range("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01", "2025-02"]


def test_bad_month_and_window() -> None:
    with pytest.raises(InputError, match="expected a month as 'YYYY-MM'"):
        Period("2025-13")
    with pytest.raises(InputError, match="ends \\(2025-01\\) before it starts \\(2025-06\\)"):
        ReferenceWindow("2025-06", "2025-01")
