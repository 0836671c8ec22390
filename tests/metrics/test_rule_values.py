"""Rule values that would make a rule never fire, or always fire, are refused when the file is
read, naming the file, the rule, the key, the value and what is expected (QA qa9/config,
fault 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics import load_rules
from metrics._rules import EARLIER_DEFAULTS_SHA256, parse_rules
from radqa.errors import ConfigError

SENS = 'method = "two_proportion"\nmetric = "sensitivity"\ngroup_by = ["site"]\n'
PSI = 'method = "psi"\nmetric = "score"\ngroup_by = ["site", "finding"]\n'
NEW = 'method = "new_category"\nmetric = "scanner_software"\ngroup_by = ["site"]\n'
VOL = 'method = "poisson"\nmetric = "volume"\ngroup_by = ["site"]\n'
P_CHART = 'method = "p_chart"\nmetric = "sensitivity"\ngroup_by = ["site"]\n'
CUSUM = 'method = "cusum"\nmetric = "sensitivity"\ngroup_by = ["site"]\n'
EWMA = 'method = "ewma"\nmetric = "sensitivity"\ngroup_by = ["site"]\n'
AT_MOST_1 = "is at most 1, and an alert needs it to exceed the threshold)"

CASES = [
    (SENS + "threshold = 1.5",
     "threshold is 1.5; expected a number >= 0 and < 1 for method 'two_proportion' "
     f"(a difference of proportions {AT_MOST_1}"),
    (SENS + "threshold = 1",
     "threshold is 1; expected a number >= 0 and < 1 for method 'two_proportion' "
     f"(a difference of proportions {AT_MOST_1}"),
    (NEW + "threshold = 1.5",
     "threshold is 1.5; expected a number >= 0 and < 1 for method 'new_category' "
     f"(a category's share of the month {AT_MOST_1}"),
    (SENS + "threshold = 0.05\nalpha = 0",
     "alpha is 0; expected a number between 0.0 and 1.0, both excluded"),
    (SENS + "threshold = 0.05\nalpha = 1.0",
     "alpha is 1.0; expected a number between 0.0 and 1.0, both excluded"),
    (PSI + 'threshold = 0.2\ndirection = "decrease"',
     "direction 'decrease' does not fit method 'psi': it measures a distance, never negative, "
     "so the rule could never fire; valid: increase, both (the default)"),
    (NEW + 'threshold = 0.0\ndirection = "decrease"',
     "direction 'decrease' does not fit method 'new_category': it measures a distance, never "
     "negative, so the rule could never fire; valid: increase, both (the default)"),
    (VOL + 'threshold = 1.0\ndirection = "decrease"',
     "threshold is 1.0 with direction 'decrease'; expected a number < 1 for method 'poisson' (a "
     "volume falls by at most 100%, and an alert needs the fall to exceed the threshold)"),
    (P_CHART + "threshold = 3\nparams = {L = -1}",
     "params.L is -1; a 'p_chart' rule's L is its threshold: set threshold instead of params.L"),
    (P_CHART + "threshold = 0",
     "threshold is 0; expected a number > 0 for method 'p_chart' (sigma units; a limit of 0 "
     "would signal on any deviation at all)"),
    (CUSUM + "threshold = 4\nparams = {h = 5}",
     "params.h is 5; a 'cusum' rule's h is its threshold: set threshold instead of params.h"),
    (SENS + "threshold = 0.05\nparams = {alpha = 5}",
     "params.alpha is 5; expected a number > 0 and < 1 for method 'two_proportion' (the "
     "confidence interval shown is at level 1 - alpha)"),
    (EWMA + "threshold = 3\nparams = {lam = 0}",
     "params.lam is 0; expected a number > 0 and <= 1 for method 'ewma' (the EWMA's weight of a "
     "new month)"),
    (CUSUM + "threshold = 4\nparams = {k = true}",
     "params.k is True; expected a number >= 0 for method 'cusum' (the reference value, half "
     "the shift in sigma to detect)"),
    (PSI + "threshold = 0.2\nparams = {foo = 1}",
     "params has unknown key 'foo' for method 'psi'; valid keys: none (the method takes no "
     "params)"),
    (EWMA + "threshold = 3\nparams = {k = 1}",
     "params has unknown key 'k' for method 'ewma'; valid keys: lam"),
    (SENS + "threshold = 0.05\nwindow_months = 3",
     "window_months is 3; expected a whole number between 1 and 2"),
    (CUSUM + "threshold = 4\nwindow_months = 2",
     "window_months is 2; expected 1 for method 'cusum': the chart accumulates the months "
     "itself, and overlapping windows would count each month twice"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"), CASES, ids=[" ".join(m.split()[:3]) for _, m in CASES]
)
def test_a_value_that_fixes_the_outcome_is_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "alert_rules.toml"
    ok = '[[rule]]\nname = "fine"\n' + VOL + "threshold = 0.5\n\n"
    path.write_text(ok + '[[rule]]\nname = "x"\n' + body + "\n")
    with pytest.raises(ConfigError) as e:
        load_rules(path)
    assert str(e.value) == f"{path}: rule 2 ('x'): {message}"


def test_a_rule_that_is_not_a_table_is_named() -> None:
    with pytest.raises(ConfigError) as e:
        parse_rules("rule = [1, 2]\n", "alert_rules.toml")
    assert str(e.value) == (
        "alert_rules.toml: rule 1: found 1; expected a [[rule]] table (name, method, ...)"
    )


def test_values_at_the_edge_of_their_range_are_accepted() -> None:
    rules = parse_rules(
        '[[rule]]\nname = "a"\n' + SENS + "threshold = 0.99\nalpha = 0.999\n"
        'params = {alpha = 0.1}\nwindow_months = 2\ndirection = "decrease"\n\n'
        '[[rule]]\nname = "b"\n' + PSI + 'threshold = 5.0\ndirection = "increase"\n\n'
        '[[rule]]\nname = "c"\n' + VOL + 'threshold = 1.5\ndirection = "increase"\n\n'
        '[[rule]]\nname = "d"\n' + EWMA + "threshold = 2.7\nparams = {lam = 1}\n\n"
        '[[rule]]\nname = "e"\n' + CUSUM + "threshold = 5\nparams = {k = 0}\n\n"
        '[[rule]]\nname = "f"\n' + P_CHART + "threshold = 2\nwindow_months = 2\n"
    )
    assert [(r.name, r.threshold, r.params, r.window_months) for r in rules] == [
        ("a", 0.99, {"alpha": 0.1}, 2),
        ("b", 5.0, {}, 1),
        ("c", 1.5, {}, 1),
        ("d", 2.7, {"lam": 1.0}, 1),
        ("e", 5.0, {"k": 0.0}, 1),
        ("f", 2.0, {}, 2),
    ]


def test_the_defaults_text_it_replaced_still_reads_as_the_defaults() -> None:
    """The rules text of the previous version (the comments changed) is an earlier default."""
    assert "8bd8e0d822fc7080ec0920feb40670dd00f9988f42bbaee43c8d35027fe22591" in (
        EARLIER_DEFAULTS_SHA256
    )
