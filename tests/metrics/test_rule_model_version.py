"""The "new model version" rule: a model version a site's reference window did not have is an
alert from the month it first scored studies there (the vendor's update makes every figure
before and after it a different product), for the rule's alert_months (3) months, then known;
a version already in the reference window is not."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from metrics import default_rules
from metrics._monitor import monitor
from metrics._periods import ReferenceWindow
from metrics._rules import DEFAULT_RULES_TOML, EARLIER_DEFAULTS_SHA256, parse_rules
from radqa._demo_expected import model_version_switches
from radqa._demo_plan import compile_plan
from radqa.demo import default_config
from radqa.errors import ConfigError
from tests.metrics._small_store import Block, months, small_store
from tests.metrics.test_monitor import _load

RULE = [r for r in default_rules() if r.name == "new model version"]
SITES = (
    "Busan Community Hospital",
    "Kobe Community Hospital",
    "Osaka University Hospital",
    "Seoul National University Hospital",
    "Tokyo Medical Center",
)


def _version_alerts(con: Any, month: str, reference: ReferenceWindow) -> list[tuple[Any, ...]]:
    result = monitor(con, month=month, reference=reference, rules=RULE)
    return sorted(
        (a.group["site"], a.group["model_name"], a.group["model_version"], a.first_period,
         a.periods, a.value, a.evidence["n"], a.evidence["n_reference"])
        for a in result.alerts
    )  # fmt: skip


def _studies(con: Any, site: str, model: str, version: str | None, first: str, last: str) -> int:
    """Studies at ``site`` dated ``first``..``last`` (months) that ``model`` (of ``version``,
    any when None) scored, counted here from the tables."""
    return int(
        con.execute(
            """select count(distinct p.study_uid)
            from predictions as p join studies as s using (study_uid)
            where s.site = $site and p.model_name = $model
              and ($version is null or p.model_version = $version)
              and strftime(s.study_datetime, '%Y-%m') between $first and $last""",
            {"site": site, "model": model, "version": version, "first": first, "last": last},
        ).fetchone()[0]
    )


def test_the_default_rule() -> None:
    (rule,) = RULE
    assert (rule.method, rule.metric, rule.group_by) == ("new_category", "model_version",
                                                         ("site", "model_name"))  # fmt: skip
    assert (rule.threshold, rule.min_n, rule.persistence, rule.window_months,
            rule.alert_months) == (0.0, 10, 1, 1, 3)  # fmt: skip
    # the defaults text this one replaced, saved unedited by an earlier RadQA, reads as today's
    assert "c0bc70bae465c8cd0a776d20053c8693f8f09fad9dc5ae35215a8c3323239364" in (
        EARLIER_DEFAULTS_SHA256
    )
    assert hashlib.sha256(DEFAULT_RULES_TOML.encode()).hexdigest() not in EARLIER_DEFAULTS_SHA256


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    return _load(tmp_path_factory.mktemp("demo"), studies=40_000, seed=5)  # type: ignore[no-any-return]


def test_the_demo_s_version_switches_are_found_at_every_site_in_their_month(demo) -> None:  # noqa: ANN001
    """ChestXR-Triage 2.2 from 2025-07 and CT-Lung 3.1 from 2026-04 (month offsets 8 and 17 of
    the demo's 24, radqa/_demo_config.py), at each of the five sites: every site has both
    radiography and CT."""
    con, doc = demo
    reference = ReferenceWindow.first_months(6)
    assert doc["reference_months"][-1] == "2025-04"
    plan = compile_plan(default_config(), seed=doc["seed"], studies=doc["studies"],
                        months=doc["months"])  # fmt: skip
    planted = [(s["site"], s["model_name"], s["model_version"], s["start"])
               for s in model_version_switches(plan)]  # fmt: skip
    assert planted == [(site, "ChestXR-Triage", "2.2", "2025-07") for site in SITES] + [
        (site, "CT-Lung", "3.1", "2026-04") for site in SITES
    ]
    assert _version_alerts(con, "2025-06", reference) == []  # 2.1 and 3.0 only, as in reference
    chest = [
        (site, "ChestXR-Triage", "2.2", "2025-07", 1, 1.0,
         _studies(con, site, "ChestXR-Triage", "2.2", "2025-07", "2025-07"),
         _studies(con, site, "ChestXR-Triage", None, "2024-11", "2025-04"))
        for site in SITES
    ]  # fmt: skip
    assert _version_alerts(con, "2025-07", reference) == chest
    assert all(row[6] >= 10 for row in chest)  # min_n met: 2.2 scored every chest film there
    assert _version_alerts(con, "2025-09", reference) == [
        (*row[:4], 3, 1.0, _studies(con, row[0], row[1], "2.2", "2025-09", "2025-09"), row[7])
        for row in chest
    ]  # the third month, the rule's last (alert_months = 3)
    # then known: still new against the reference, listed, no alert (it alerted every month,
    # 9 months running in 2026-03, as long as the reference window predated it)
    assert _version_alerts(con, "2025-10", reference) == []
    assert _version_alerts(con, "2026-03", reference) == []
    rows = monitor(con, month="2026-03", reference=reference, rules=RULE).new_categories
    chest_rows = rows[rows["model_name"] == "ChestXR-Triage"].sort_values("site")
    assert chest_rows[["site", "status", "periods", "first_alert", "alert_until", "known"]] \
        .values.tolist() == [[site, "drift", 9, "2025-07", "2025-09", True] for site in SITES]  # fmt: skip
    april = _version_alerts(con, "2026-04", reference)
    lung = [a for a in april if a[1] == "CT-Lung"]
    assert [a[:6] for a in lung] == [(site, "CT-Lung", "3.1", "2026-04", 1, 1.0) for site in SITES]
    assert [a[6] for a in lung] == [
        _studies(con, site, "CT-Lung", "3.1", "2026-04", "2026-04") for site in SITES
    ]
    assert [a for a in april if a[1] == "ChestXR-Triage"] == []


def test_a_reference_of_the_new_version_raises_nothing(demo) -> None:  # noqa: ANN001
    """With a reference window holding 2.2 (2025-07..12), ChestXR-Triage 2.2 is not new."""
    con, _ = demo
    reference = ReferenceWindow("2025-07", "2025-12")
    assert _version_alerts(con, "2026-01", reference) == []
    assert [a[:5] for a in _version_alerts(con, "2026-04", reference)] == [
        (site, "CT-Lung", "3.1", "2026-04", 1) for site in SITES
    ]


def _versions(con: Any, prefix: str, model: str, version: str) -> None:
    con.execute(
        "update predictions set model_name = $m, model_version = $v where starts_with(study_uid, $p)",
        {"m": model, "v": version, "p": prefix},
    )


def test_only_a_version_the_site_s_model_lacked_in_the_reference_alerts() -> None:
    """Reference 2025-01..06, monitored 2025-07. Model M at A: 40 studies a month of version 1,
    and 20 of version 2 in 2025-03, so 2 is not new there in 2025-07. At B: version 2 is new
    (15 studies), version 3 too but on 5 studies, under min_n = 10. At A, model N had version
    5 in the reference; model M's version 5 in 2025-07 is new all the same (12 studies)."""
    blocks = [Block(s, m, 40) for s in ("A", "B") for m in months("2025-01", "2025-07")]
    extra = [Block("A", "2025-03", 20), Block("A", "2025-02", 30), Block("A", "2025-07", 25),
             Block("B", "2025-07", 15), Block("B", "2025-07", 5), Block("A", "2025-07", 12)]  # fmt: skip
    con = small_store(blocks + extra)
    k = len(blocks)
    for i, (site, month, model, version) in enumerate([
        ("A", "2025-03", "M", "2"), ("A", "2025-02", "N", "5"), ("A", "2025-07", "M", "2"),
        ("B", "2025-07", "M", "2"), ("B", "2025-07", "M", "3"), ("A", "2025-07", "M", "5"),
    ]):  # fmt: skip
        _versions(con, f"{site}.{month}.{k + i}.", model, version)
    reference = ReferenceWindow("2025-01", "2025-06")
    result = monitor(con, month="2025-07", reference=reference, rules=RULE)
    assert sorted((a.group["site"], a.group["model_name"], a.group["model_version"],
                   a.evidence["n"], a.evidence["n_reference"], round(a.value, 6))
                  for a in result.alerts) == [
        ("A", "M", "5", 12, 260, round(12 / (40 + 25 + 12), 6)),
        ("B", "M", "2", 15, 240, round(15 / (40 + 15 + 5), 6)),
    ]  # fmt: skip
    rows = result.new_categories
    assert sorted(zip(rows["site"], rows["model_name"], rows["category"], rows["status"],
                      strict=True)) == [
        ("A", "M", "5", "drift"), ("B", "M", "2", "drift"), ("B", "M", "3", "insufficient data"),
    ]  # fmt: skip


RULE_HEAD = '[[rule]]\nname = "v"\nmethod = "{method}"\nmetric = "{metric}"\nthreshold = 0.0\n'


@pytest.mark.parametrize(
    ("method", "metric", "group_by", "message"),
    [
        (
            "new_category",
            "model_version",
            '["site"]',
            "a model_version rule must group by 'model_name' (versions of different models differ)",
        ),
        (
            "new_category",
            "model_version",
            '["site", "model_name", "finding"]',
            "group_by is ['site', 'model_name', 'finding']; expected a list of distinct names from "
            "['site', 'scanner_manufacturer', 'scanner_model', 'scanner_software', 'modality', "
            "'model_name']",
        ),
        (
            "new_category",
            "scanner_model",
            '["site", "model_name"]',
            "group_by is ['site', 'model_name']; expected a list of distinct names from ['site', "
            "'scanner_manufacturer', 'scanner_model', 'scanner_software', 'modality']",
        ),
        (
            "chi2",
            "model_version",
            '["site", "model_name"]',
            "metric 'model_version' does not fit method 'chi2'; valid: scanner_manufacturer, "
            "scanner_model, scanner_software, modality, body_part, patient_sex, age_band",
        ),
    ],
)
def test_errors_name_what_a_model_version_rule_may_group_by(
    method: str, metric: str, group_by: str, message: str
) -> None:
    text = RULE_HEAD.format(method=method, metric=metric) + f"group_by = {group_by}\n"
    with pytest.raises(ConfigError) as e:
        parse_rules(text, "r.toml")
    assert str(e.value) == f"r.toml: rule 1 ('v'): {message}"


def test_a_rule_on_predictions_may_group_by_model_name(tmp_path: Path) -> None:
    """model_name is a group of the prediction tables too: the AI positive rate per model."""
    blocks = [Block("A", m, 100) for m in months("2025-01", "2025-07")]
    con = small_store([*blocks, Block("A", "2025-07", 60, predicted=True)])
    (rule,) = parse_rules(
        '[[rule]]\nname = "rate"\nmethod = "two_proportion"\nmetric = "positive_rate"\n'
        'group_by = ["site", "model_name"]\nthreshold = 0.05\nmin_n = 50\n'
    )
    result = monitor(con, month="2025-07", reference=ReferenceWindow("2025-01", "2025-06"),
                     rules=[rule])  # fmt: skip
    assert [(a.group, round(a.value, 6), a.evidence["n"]) for a in result.alerts] == [
        ({"site": "A", "model_name": "M"}, round(60 / 160, 6), 160)
    ]
