"""The control-chart table gives what a chart needs to be read: the CUSUM's decision interval
and, per month, how many events the reference proportion expects (a reviewer's finding: a CUSUM
at 23 SD on a group of 5-16 studies a month, reference 2 positives in 52, with no decision line
and no word that the limits' normal approximation fails there)."""

from __future__ import annotations

import pytest

from metrics._monitor import monitor
from metrics._periods import ReferenceWindow
from metrics._spc import CUSUM_H
from tests.metrics._small_store import Block, months, small_store


def test_spc_rows_carry_the_decision_interval_and_the_expected_counts() -> None:
    """Site A: 40 studies called negative and 10 positive a month (p0 = 0.2, n = 50: 10
    expected positives, 40 negatives); site B: 6 and 1 (p0 = 1/7, n = 7: 1 expected)."""
    blocks = []
    for m in months("2025-01", "2025-08"):
        blocks += [Block("A", m, 40), Block("A", m, 10, predicted=True)]
        blocks += [Block("B", m, 6), Block("B", m, 1, predicted=True)]
    con = small_store(blocks)
    result = monitor(con, month="2025-08", reference=ReferenceWindow("2025-01", "2025-06"))
    spc = result.spc
    assert (spc["cusum_h"] == CUSUM_H).all()
    rate = spc[spc["metric"] == "positive_rate"].sort_values(["site", "month"])
    assert rate["month"].tolist() == ["2025-07", "2025-08"] * 2
    assert rate["n"].tolist() == [50, 50, 7, 7]
    assert rate["center"].tolist() == pytest.approx([0.2, 0.2, 1 / 7, 1 / 7])
    assert rate["expected_min"].tolist() == pytest.approx([10, 10, 1, 1])
    # specificity: every study is labelled 0, so its events are the true negatives (40 of 50):
    # min(50 x 0.8, 50 x 0.2) = 10 at A, min(7 x 6/7, 7 x 1/7) = 1 at B
    spec = spc[spc["metric"] == "specificity"].sort_values(["site", "month"])
    assert spec["expected_min"].tolist() == pytest.approx([10, 10, 1, 1])
