"""An effect exactly equal to a rule's threshold does not exceed it (QA qa9/config, fault 7:
0.90 -> 0.85 against threshold 0.05 fired, because 0.85 - 0.9 is -0.050000000000000044)."""

from __future__ import annotations

import pytest

from metrics._monitor import monitor
from metrics._periods import ReferenceWindow
from metrics._rules import parse_rules
from tests.metrics._small_store import Block, months, small_store

REF = ReferenceWindow("2025-01", "2025-06")

RULES = """
[[rule]]
name = "sens drop"
method = "two_proportion"
metric = "sensitivity"
group_by = ["site"]
direction = "decrease"
threshold = 0.05
min_n = 30

[[rule]]
name = "vol change 2m"
method = "poisson"
metric = "volume"
group_by = ["site"]
threshold = 0.3
min_n = 50
window_months = 2

[[rule]]
name = "new sw 5%"
method = "new_category"
metric = "scanner_software"
group_by = ["site"]
threshold = 0.05
min_n = 10

[[rule]]
name = "new sw"
method = "new_category"
metric = "scanner_software"
group_by = ["site"]
threshold = 0.0
min_n = 10
"""


def _sensitivity(site: str, month: str, tp: int, n: int) -> list[Block]:
    return [
        Block(site, month, tp, predicted=True, label=1),
        Block(site, month, n - tp, predicted=False, label=1),
    ]


def test_an_effect_equal_to_the_threshold_does_not_fire_and_one_just_beyond_does() -> None:
    blocks = []
    for m in months("2025-01", "2025-06"):
        blocks += _sensitivity("S2", m, 1800, 2000) + _sensitivity("S5", m, 1800, 2000)
        blocks.append(Block("S3", m, 100))
    # S2: 1800/2000 = 0.90 to 1700/2000 = 0.85, exactly -0.05; S5: to 1699/2000, -0.0505
    blocks += _sensitivity("S2", "2025-07", 1700, 2000) + _sensitivity("S5", "2025-07", 1699, 2000)
    # S3: 100 a month, then 100 and 40: a two-month window of 140 against 200, exactly -0.30
    blocks += [Block("S3", "2025-07", 100), Block("S3", "2025-08", 40)]
    # S1: 285 studies on v1 and 15 on the new v2 in 08, a share of exactly 0.05
    blocks += [Block("S1", m, 300) for m in months("2025-01", "2025-07")]
    blocks += [Block("S1", "2025-08", 285), Block("S1", "2025-08", 15, software="v2")]
    rules = parse_rules(RULES)

    july = monitor(small_store(blocks), month="2025-07", reference=REF, rules=rules)
    res = july.results
    sens = res[res["rule"] == "sens drop"].set_index("site")
    assert sens.loc["S2", "value"] == pytest.approx(-0.05) and sens.loc["S2", "value"] < -0.05
    assert sens.loc["S2", "p_adjusted"] < 1e-9  # the test passes: only the threshold decides
    assert sens.loc["S2", "status"] == "ok"
    assert sens.loc["S5", "value"] == pytest.approx(-0.0505)
    assert sens.loc["S5", "status"] == "drift"
    assert [(a.rule, a.group) for a in july.alerts] == [("sens drop", {"site": "S5"})]

    august = monitor(small_store(blocks), month="2025-08", reference=REF, rules=rules)
    res = august.results
    vol = res[(res["rule"] == "vol change 2m") & (res["site"] == "S3")].set_index("month")
    assert vol.loc["2025-08", "value"] == pytest.approx(-0.3)
    assert vol.loc["2025-08", "p_adjusted"] < 0.01
    assert vol.loc["2025-08", "status"] == "ok"
    new = res[res["method_key"] == "new_category"].set_index("rule")
    assert new.loc["new sw 5%", "value"] == pytest.approx(0.05)
    assert new.loc["new sw 5%", "status"] == "ok"  # a share of 0.05 does not exceed 0.05
    assert new.loc["new sw", "status"] == "drift"  # any new category exceeds 0
    alerts = [(a.rule, a.group) for a in august.alerts if a.group["site"] in ("S1", "S3")]
    assert alerts == [("new sw", {"site": "S1", "scanner_software": "v2"})]
