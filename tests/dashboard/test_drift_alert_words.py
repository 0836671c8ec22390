"""Drift › Alerts table in words (a reviewer: it showed raw keys, 'scanner_model',
'positive_rate', group keys and snake_case evidence names such as 'p_adjusted 3.62e-06'): the
monthly report's words for metrics, groups, effects and intervals, the monitor's method label."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import metrics
from dashboard import _alerts
from dashboard._columns import EXPANDER_WIDTH_1280
from reports import NEW_WHAT, PRETTY

from .conftest import open_tab

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def test_metric_words_are_the_reports() -> None:
    assert _alerts.metric_words("positive_rate") == "AI positive rate"
    assert _alerts.metric_words("scanner_model") == "Scanner model"
    assert _alerts.metric_words("scanner_software") == "Scanner software version"
    assert _alerts.metric_words("model_version") == "AI model version"
    assert _alerts.metric_words("discordance") == "AI-reference discordance"
    assert _alerts.metric_words("label_completeness") == "Label completeness"
    assert _alerts.metric_words("body_part") == "Body part"  # no word for it: the key in words
    # every metric the report names reads the same (first letter capitalised) on the page
    for key, words in (PRETTY | NEW_WHAT).items():
        assert _alerts.metric_words(key) == words[:1].upper() + words[1:]


def _alert(
    rule: str, metric: str, value: float, group: dict, **evidence: object
) -> SimpleNamespace:
    ev = {"n": 216, "n_reference": 1272, "p_value": None, "p_adjusted": None, "ci_low": None,
          "ci_high": None, "method": "", "reference_value": None, "months_covered": 1,
          **evidence}  # fmt: skip
    return {"rule": rule, "metric": metric, "value": value, "threshold": 0.05, "group": group,
            "first_period": "2026-03", "periods": 8, "evidence": ev}  # fmt: skip


def test_alerts_table_in_the_reports_words() -> None:
    label = metrics.METHODS["two_proportion"].label
    alerts = [
        _alert("AI positive rate change", "positive_rate", 0.12744,
               {"site": "Osaka University Hospital", "scanner_model": "Ysio Max"},
               p_adjusted=3.62e-06, ci_low=0.0716, ci_high=0.191, reference_value=0.1179,
               method=f"{label}; p adjusted across groups by Holm (1979)"),
        _alert("new scanner model", "scanner_model", 0.2766,
               {"site": "Busan Community Hospital", "scanner_model": "GC85A"},
               method=metrics.METHODS["new_category"].label),
        _alert("sensitivity p-chart", "sensitivity", -3.2, {"finding": "pneumothorax"},
               ci_low=0.71, ci_high=0.93, reference_value=0.82, method="p-chart"),
    ]  # fmt: skip
    rules = [SimpleNamespace(name=n, method=m) for n, m in (
        ("AI positive rate change", "two_proportion"), ("new scanner model", "new_category"),
        ("sensitivity p-chart", "p_chart"))]  # fmt: skip
    result = SimpleNamespace(alerts_as_dicts=lambda: alerts, rules=rules)
    table = _alerts.alerts_table(result)
    assert list(table.columns) == list(_alerts.ALERT_COLUMNS)
    first = table.iloc[0].to_dict()
    assert first == {
        "rule": "AI positive rate change",
        "metric": "AI positive rate",
        "group": "at Osaka University Hospital on the Ysio Max",
        "n": "216",
        "reference": "0.12",
        "effect": "0.13",
        "interval": "0.07 to 0.19",
        "p_adjusted": "< 0.0001",
        "threshold": "0.05",
        "first_period": "2026-03",
        "periods": 8,
        "method": "two-proportion z test (Fisher exact where an expected count < 5); Newcombe "
        "CI; p adjusted across groups by Holm (1979)",
    }
    new, chart = table.iloc[1], table.iloc[2]
    assert (new["metric"], new["group"]) == (
        "Scanner model", "at Busan Community Hospital on the GC85A"
    )  # fmt: skip
    assert new["method"] == "category never seen in the reference window"
    assert (new["p_adjusted"], new["interval"], new["reference"]) == ("–", "–", "–")
    # a control chart's statistic and limits, named as the report names them
    assert (chart["effect"], chart["interval"]) == ("z = −3.20", "limits 0.71 to 0.93")
    assert chart["group"] == "for pneumothorax"
    # no internal key in any cell, header or help text
    cells = " ".join(str(v) for v in table.drop(columns="rule").to_numpy().ravel())
    assert SNAKE.findall(cells) == []
    for key, column in _alerts.ALERT_COLUMNS.items():
        assert not SNAKE.search(column["label"]), key
        assert not SNAKE.search(column.get("help") or ""), key


def test_alerts_table_without_alerts_has_its_columns() -> None:
    empty = _alerts.alerts_table(SimpleNamespace(alerts_as_dicts=list, rules=[]))
    assert empty.empty and list(empty.columns) == list(_alerts.ALERT_COLUMNS)


def test_alerts_answer_in_view_inside_the_expander_at_1280() -> None:
    widths = [c["width"] for c in _alerts.ALERT_COLUMNS.values()]
    answer = list(_alerts.ALERT_COLUMNS)[: list(_alerts.ALERT_COLUMNS).index("p_adjusted") + 1]
    assert answer == [
        "rule", "metric", "group", "n", "reference", "effect", "interval", "p_adjusted"
    ]  # fmt: skip
    assert sum(widths[: len(answer)]) == EXPANDER_WIDTH_1280 == 784
    # "limits 0.12 to 0.20" is 102 px of 14 px text, 8 px padding a side
    assert _alerts.ALERT_COLUMNS["interval"]["width"] >= 102 + 16


def test_drift_page_alerts_table_in_words(app, demo_dir, con) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir, "views/drift.py"), "dr_tab", "Alerts")
    month = at.selectbox(key="dr_month").value
    result = metrics.monitor(con, month=month, reference=metrics.ReferenceWindow.first_months(6))
    assert result.alerts, "the demo's last month has drift alerts"
    table = at.dataframe[0]
    shown = table.value
    assert list(shown.columns) == list(_alerts.ALERT_COLUMNS)
    assert list(shown["rule"]) == [a.rule for a in result.alerts]
    assert list(shown["metric"]) == [_alerts.metric_words(a.metric) for a in result.alerts]
    assert not any("_" in m for m in shown["metric"])
    assert not any(re.search(r"\w+_\w+: ", g) for g in shown["group"])
    assert list(shown["n"]) == [f"{a.evidence['n']:,}" for a in result.alerts]
    config = json.loads(table.proto.columns)
    assert [config[c]["label"] for c in ("metric", "p_adjusted", "first_period")] == [
        "Metric", "p adj.", "First month"
    ]  # fmt: skip
    assert table.proto.row_height >= 68  # a long rule or group wraps in its cell
