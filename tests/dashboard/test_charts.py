"""The Drift page's figures, built from small monitor-shaped tables: each trace shows the values
it is given, in percent, with the intervals the metrics layer computed."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import _charts


def test_score_histogram_overlays_reference_and_month_shares() -> None:
    part = pd.DataFrame(
        {
            "bin": [0, 1],
            "bin_low": [0.0, 0.5],
            "bin_high": [0.5, 1.0],
            "reference_share": [0.75, 0.25],
            "month_share": [0.4, 0.6],
            "n_reference": [400, 400],
            "n_month": [50, 50],
        }
    )
    fig = _charts.score_histogram(part, "2026-10")
    ref, month = fig.data
    assert list(ref.x) == [0.25, 0.75] and list(ref.y) == [75.0, 25.0]
    assert list(month.y) == [40.0, 60.0]
    assert (ref.name, month.name) == ("reference (n = 400)", "2026-10 (n = 50)")
    assert fig.layout.barmode == "overlay"


def test_completeness_lines_one_per_finding_in_month_order() -> None:
    table = pd.DataFrame(
        {
            "finding": ["ptx", "ptx", "nodule"],
            "period": ["2026-10", "2026-09", "2026-10"],
            "completeness": [0.5, 0.9, 1.0],
            "labelled": [5, 9, 4],
            "n": [10, 10, 4],
        }
    )
    fig = _charts.completeness_lines(table, ["nodule", "ptx", "effusion"])
    assert [t.name for t in fig.data] == ["nodule", "ptx"]
    ptx = fig.data[1]
    assert list(ptx.x) == ["2026-09", "2026-10"] and list(ptx.y) == [90.0, 50.0]
    assert "n = 24" in fig.layout.title.text


def test_estimated_vs_realised_error_bars_are_the_interval() -> None:
    part = pd.DataFrame(
        {
            "site": ["B", "A"],
            "finding": ["ptx", "ptx"],
            "estimate": [0.8, 0.6],
            "low": [0.7, 0.4],
            "high": [0.85, 0.7],
            "realised": [0.75, 0.65],
        }
    )
    fig = _charts.estimated_vs_realised(part, "sensitivity", 120)
    est, real = fig.data
    assert list(est.y) == ["A · ptx", "B · ptx"]  # sorted by label
    assert list(est.x) == pytest.approx([60.0, 80.0])
    assert list(est.error_x.array) == pytest.approx([10.0, 5.0])
    assert list(est.error_x.arrayminus) == pytest.approx([20.0, 10.0])
    assert list(real.x) == pytest.approx([65.0, 75.0])
    assert fig.layout.title.text.startswith("Sensitivity: estimate for 120 pending")
