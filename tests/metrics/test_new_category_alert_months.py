"""A new category (scanner model, software version, model version) alerts for its rule's
``alert_months`` months from its first alert, then is listed as known, with no alert.

A reviewer's count on the 20,000-study demo: in 2026-10, 11 of 13 alerts were new scanner
models, software and model versions installed 7 to 16 months before; each alerted every month
for as long as the reference window predated it, and the month's two performance alerts were
lost among them. Now a category alerts in its first ``alert_months`` months (3 by default;
the rule's persistence first), and after them its row reads "known: in use since ...", how it
alerted and how to monitor it against its own baseline.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from metrics import default_rules, new_category_status
from metrics._monitor import monitor
from metrics._periods import ReferenceWindow
from metrics._rules import DEFAULT_RULES_TOML, load_rules, parse_rules
from radqa.errors import ConfigError
from reports._render import _new_months
from tests.metrics._small_store import Block, months, small_store

RULES = {r.name: r for r in default_rules()}
NEW_RULES = ("new scanner model", "new scanner software version", "new model version")
REFERENCE = ReferenceWindow("2025-01", "2025-06")
#: What is new in each rule's store, and its value
NEW_VALUE = {"new scanner model": "ScanB", "new scanner software version": "v2",
             "new model version": "2"}  # fmt: skip


def _store(rule: str, new: list[int]) -> Any:
    """Site A: 40 studies a month of scanner ScanA, software v1, model M 1 in 2025-01..12, and
    ``new[t]`` studies of the rule's new value (:data:`NEW_VALUE`) in month 2025-07 + t."""
    blocks = [Block("A", m, 40) for m in months("2025-01", "2025-12")]
    later = [Block("A", m, k) for m, k in zip(months("2025-07", "2025-12"), new, strict=False)]
    con = small_store(blocks + later)
    table, column = {"new scanner model": ("studies", "scanner_model"),
                     "new scanner software version": ("studies", "scanner_software"),
                     "new model version": ("predictions", "model_version")}[rule]  # fmt: skip
    for i, b in enumerate(later, start=len(blocks)):
        con.execute(
            f"update {table} set {column} = $v where starts_with(study_uid, $p)",  # noqa: S608
            {"v": NEW_VALUE[rule], "p": f"{b.site}.{b.month}.{i}."},
        )
    return con


def _alerted(con: Any, rule: Any, month: str) -> list[tuple[str, str, int]]:
    result = monitor(con, month=month, reference=REFERENCE, rules=[rule])
    return [(a.group[rule.metric], a.first_period, a.periods) for a in result.alerts]


@pytest.mark.parametrize("name", NEW_RULES)
def test_a_new_category_alerts_for_alert_months_then_not(name: str) -> None:
    """12 studies of the new value every month from 2025-07: an alert in 2025-07, 08 and 09
    (first + alert_months - 1), none in 2025-10 (first + alert_months) and after; the old code
    alerted in every month (6 months running in 2025-12)."""
    rule = RULES[name]
    assert rule.alert_months == 3
    con = _store(name, [12] * 6)
    value = NEW_VALUE[name]
    assert [_alerted(con, rule, m) for m in months("2025-07", "2025-12")] == [
        [(value, "2025-07", 1)], [(value, "2025-07", 2)], [(value, "2025-07", 3)], [], [], []
    ]  # fmt: skip
    # still listed: drifting against the reference, known, with when it alerted
    rows = monitor(con, month="2025-10", reference=REFERENCE, rules=[rule]).new_categories
    assert rows[["category", "status", "periods", "first_alert", "alert_until", "known"]] \
        .values.tolist() == [[value, "drift", 4, "2025-07", "2025-09", True]]  # fmt: skip
    last = monitor(con, month="2025-09", reference=REFERENCE, rules=[rule]).new_categories
    assert last[["first_alert", "alert_until", "known"]].values.tolist() == [
        ["2025-07", "2025-09", False]
    ]


def test_the_known_row_in_words_on_the_drift_page_and_in_the_report() -> None:
    rule = RULES["new scanner software version"]
    con = _store(rule.name, [12] * 6)
    rows = monitor(con, month="2025-12", reference=REFERENCE, rules=[rule]).new_categories
    (words,) = new_category_status(rows, {rule.name: 10}, {rule.name: 1})
    # the Drift page: status "known", the reason in 3 lines of about 31 characters
    assert words == (
        "known: in use since 2025-07; alerted 2025-07 to 2025-09 (alert_months = 3), then known"
    )
    assert len(words.partition(": ")[2]) <= 3 * 31
    # the report's "Months running (or why not judged)" cell: the months, then why no alert
    (row,) = rows.to_dict("records")
    assert _new_months({**row, "status_words": words}) == (
        "6 (in use since 2025-07; alerted 2025-07 to 2025-09 (alert_months = 3), then known)"
    )


def test_alert_months_count_from_the_first_alert_after_persistence() -> None:
    """Persistence 2, alert_months 2: the first alert is 2025-08 (two drifting months in a
    row), the last 2025-09; known from 2025-10, in use since 2025-07."""
    rule = replace(RULES["new model version"], persistence=2, alert_months=2)
    con = _store(rule.name, [12] * 6)
    assert [_alerted(con, rule, m) for m in months("2025-07", "2025-10")] == [
        [], [("2", "2025-07", 2)], [("2", "2025-07", 3)], []
    ]  # fmt: skip
    rows = monitor(con, month="2025-10", reference=REFERENCE, rules=[rule]).new_categories
    (words,) = new_category_status(rows, {rule.name: 10}, {rule.name: 2})
    assert words == (
        "known: in use since 2025-07; alerted 2025-08 to 2025-09 (alert_months = 2), then known"
    )


def test_alert_months_are_calendar_months_and_begin_when_it_is_first_judged() -> None:
    """5 studies in 2025-07 (under min_n 10: not judged, no alert), then 12, 5 (not judged),
    12, 12: the first alert is 2025-08, the alert months 2025-08..10 (2025-09, not judged, is
    one of them), known from 2025-11."""
    rule = RULES["new scanner software version"]
    con = _store(rule.name, [5, 12, 5, 12, 12])
    assert [_alerted(con, rule, m) for m in months("2025-07", "2025-11")] == [
        [], [("v2", "2025-07", 2)], [], [("v2", "2025-07", 4)], []
    ]  # fmt: skip
    rows = monitor(con, month="2025-09", reference=REFERENCE, rules=[rule]).new_categories
    assert new_category_status(rows, {rule.name: 10}) == [
        "not judged: 5 studies this month, fewer than the rule's minimum of 10"
    ]


def test_a_larger_alert_months_alerts_longer() -> None:
    rule = replace(RULES["new scanner model"], alert_months=120)
    con = _store(rule.name, [12] * 6)
    assert _alerted(con, rule, "2025-12") == [("ScanB", "2025-07", 6)]


def test_every_default_new_category_rule_names_its_alert_months() -> None:
    assert [(r.name, r.alert_months) for r in default_rules() if r.method == "new_category"] == [
        (name, 3) for name in NEW_RULES
    ]
    assert DEFAULT_RULES_TOML.count("alert_months = 3\n") == 3
    assert "#   alert_months new_category only (default 3)" in DEFAULT_RULES_TOML
    assert all(r.alert_months == 3 for r in default_rules())  # the default on every rule


NEW_RULE = ('[[rule]]\nname = "new sw"\nmethod = "new_category"\nmetric = "scanner_software"\n'
            'group_by = ["site"]\nthreshold = 0.0\n')  # fmt: skip


@pytest.mark.parametrize(
    ("value", "found"),
    [("0", "0"), ("-1", "-1"), ("2.5", "2.5"), ('"3"', "'3'"), ("true", "True")],
)
def test_a_bad_alert_months_names_file_rule_and_value(
    tmp_path: Path, value: str, found: str
) -> None:
    path = tmp_path / "alert_rules.toml"
    path.write_text(NEW_RULE + f"alert_months = {value}\n")
    with pytest.raises(ConfigError) as e:
        load_rules(path)
    assert str(e.value) == (
        f"{path}: rule 1 ('new sw'): alert_months is {found}; expected a whole number >= 1"
    )


def test_alert_months_on_a_rule_that_is_not_new_category_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alert_rules.toml"
    path.write_text(
        '[[rule]]\nname = "vol"\nmethod = "poisson"\nmetric = "volume"\ngroup_by = ["site"]\n'
        "threshold = 0.5\nalert_months = 3\n"
    )
    with pytest.raises(ConfigError) as e:
        load_rules(path)
    assert str(e.value) == (
        f"{path}: rule 1 ('vol'): alert_months is 3; it applies to new_category rules only "
        "(method 'poisson' alerts for as long as the drift lasts): remove it"
    )


def test_a_good_alert_months_is_read() -> None:
    (rule,) = parse_rules(NEW_RULE + "alert_months = 6\n")
    assert rule.alert_months == 6
    (rule,) = parse_rules(NEW_RULE)
    assert rule.alert_months == 3
