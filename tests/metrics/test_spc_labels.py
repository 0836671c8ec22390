"""A control chart's method text names the rule's own constants: it said "h = 4" for a CUSUM
rule whose threshold h was 0.5 (a tester), in the report's JSON, tables and HTML."""

from __future__ import annotations

from metrics._drift_methods import METHODS
from metrics._monitor import rule_method


def test_the_label_names_the_rules_constants() -> None:
    assert METHODS["cusum"](k=0.25, h=0.5).label == (
        "tabular CUSUM on standardized monthly deviations, k = 0.25, h = 0.5 (Montgomery 2013)"
    )
    assert METHODS["ewma"](lam=0.3, L=2.5).label == (
        "EWMA on standardized monthly deviations, lambda = 0.3, L = 2.5, exact limits "
        "(Montgomery 2013)"
    )
    assert METHODS["p_chart"](L=2.5).label == (
        "p-chart, 2.5-sigma limits from the reference proportion (Montgomery 2013, 7.2)"
    )


def test_the_defaults_read_as_before() -> None:
    assert METHODS["cusum"]().label.endswith("k = 0.5, h = 4 (Montgomery 2013)")
    assert "lambda = 0.2, L = 3," in METHODS["ewma"]().label
    assert METHODS["p_chart"]().label.startswith("p-chart, 3-sigma limits")


def test_a_rule_runs_its_method_with_its_threshold_in_the_label() -> None:
    assert rule_method("cusum", 0.5, {"k": 0.5}).label.endswith(
        "k = 0.5, h = 0.5 (Montgomery 2013)"
    )
