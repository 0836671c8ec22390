"""A new category's alert (new scanner model, software version, model version) says since when
the category has been in use in its group, and a new model version's share counts studies, not
study-version pairs.

1. "N months running (since M)": M is the first monitored month with any of the category there
   (judged or not), N the months from M to the monitored month. A month below min_n ("not
   judged") used to restart the count: on the 2,000-study demo ChestXR-Triage 2.2 at Osaka
   (every month since 2025-07, 9 studies in 2026-09) read "1 month running (since 2026-10)".
   ``persistence`` still counts consecutive drifting months.
2. The share of a new model version is of the distinct studies the model scored in the group:
   with two versions scoring the same studies side by side it read 50% (25 of 50 pairs).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ingest.load import ingest_files
from metrics import default_rules
from metrics._monitor import monitor
from metrics._periods import ReferenceWindow
from metrics._rules import parse_rules
from radqa.store import open_snapshot
from tests.ingest.conftest import PRED_HEADER, write
from tests.metrics._small_store import Block, months, small_store

RULES = {r.name: r for r in default_rules()}
VERSION = RULES["new model version"]
SOFTWARE = RULES["new scanner software version"]
REFERENCE = ReferenceWindow("2025-01", "2025-06")


def _alerts(con: Any, month: str, rules: list[Any]) -> list[tuple[Any, ...]]:
    result = monitor(con, month=month, reference=REFERENCE, rules=rules)
    return sorted(
        (a.group["site"], a.group.get(a.metric), a.first_period, a.periods, round(a.value, 6),
         a.evidence["n"], a.evidence["n_reference"])
        for a in result.alerts
    )  # fmt: skip


def _version_store(extra: dict[str, list[int]]) -> Any:
    """Site A and B: 40 studies a month of model M version 1 in 2025-01..10, and
    ``extra[site][t]`` studies of version 2 in month 2025-07 + t."""
    later = months("2025-07", "2025-10")
    blocks = [Block(s, m, 40) for s in ("A", "B") for m in months("2025-01", "2025-10")]
    new = [Block(s, m, k) for s, ks in extra.items() for m, k in zip(later, ks, strict=True)]
    con = small_store(blocks + new)
    for i, b in enumerate(new, start=len(blocks)):
        con.execute(
            "update predictions set model_version = '2' where starts_with(study_uid, $p)",
            {"p": f"{b.site}.{b.month}.{i}."},
        )
    return con


def test_a_month_below_min_n_does_not_restart_a_new_version_s_months_running() -> None:
    """Version 2 at A: 12, 12, 9 (under min_n 10: not judged), 15 studies in 2025-07..10; at B:
    3 (not judged), 0, 12, 11. Both read since 2025-07 in 2025-10 (was 1 month, since
    2025-10 at A and 2 months, since 2025-09 at B)."""
    con = _version_store({"A": [12, 12, 9, 15], "B": [3, 0, 12, 11]})
    # alert_months = 3 would end A's alert after 2025-09 (it first alerted in 2025-07): the
    # months running are what is tested here (tests/metrics/test_new_category_alert_months.py)
    version = replace(VERSION, alert_months=12)
    assert _alerts(con, "2025-10", [version]) == [
        ("A", "2", "2025-07", 4, round(15 / 55, 6), 15, 240),
        ("B", "2", "2025-07", 4, round(11 / 51, 6), 11, 240),
    ]
    assert _alerts(con, "2025-09", [version]) == [  # A not judged; B judged for the first time
        ("B", "2", "2025-07", 3, round(12 / 52, 6), 12, 240)
    ]
    # the months running of the rows the report and the dashboard list, judged or not
    result = monitor(con, month="2025-09", reference=REFERENCE, rules=[version])
    rows = result.new_categories
    assert sorted(zip(rows["site"], rows["n"], rows["status"], rows["periods"], strict=True)) == [
        ("A", 9.0, "insufficient data", 3), ("B", 12.0, "drift", 3)
    ]  # fmt: skip
    res = result.results
    a = res[(res["site"] == "A") & (res["category"] == "2")].sort_values("month")
    assert a["periods"].tolist() == [1, 2, 3] and a["run"].tolist() == [1, 2, 0]


def test_persistence_still_counts_consecutive_drifting_months() -> None:
    """A rule of persistence 2 on the same data: at B version 2 drifts in 2025-09 and 2025-10
    (3 studies in 2025-07 are not judged), so its first alert is in 2025-10, reading since
    2025-07; at A 2025-09 is not judged, so 2025-10 alone is not enough."""
    (rule,) = parse_rules(
        '[[rule]]\nname = "v"\nmethod = "new_category"\nmetric = "model_version"\n'
        'group_by = ["site", "model_name"]\nthreshold = 0.0\nmin_n = 10\npersistence = 2\n'
    )
    con = _version_store({"A": [12, 12, 9, 15], "B": [3, 0, 12, 11]})
    assert _alerts(con, "2025-09", [rule]) == []
    assert _alerts(con, "2025-10", [rule]) == [("B", "2", "2025-07", 4, round(11 / 51, 6), 11, 240)]


def test_a_new_software_version_reads_since_its_first_month_too() -> None:
    """The scanner rules share the code. Site A: software v1 (40 a month) in the reference;
    v2 with 12 studies in 2025-07, 5 in 2025-08 (not judged), 12 in 2025-09: in 2025-09 it is
    3 months running since 2025-07 (was 1 month since 2025-09)."""
    blocks = [Block("A", m, 40) for m in months("2025-01", "2025-09")]
    blocks += [Block("A", m, k, software="v2")
               for m, k in zip(months("2025-07", "2025-09"), (12, 5, 12), strict=True)]  # fmt: skip
    con = small_store(blocks)
    assert _alerts(con, "2025-09", [SOFTWARE]) == [
        ("A", "v2", "2025-07", 3, round(12 / 52, 6), 12, 240)
    ]
    assert _alerts(con, "2025-07", [SOFTWARE]) == [
        ("A", "v2", "2025-07", 1, round(12 / 52, 6), 12, 240)
    ]
    assert _alerts(con, "2025-08", [SOFTWARE]) == []


@pytest.fixture
def side_by_side(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Ingested from a CSV file: 25 studies a month at SiteA in 2025-01..08, each scored by
    model M 1.0; in 2025-08 each is also scored by M 2.0 (a side-by-side rollout)."""
    monkeypatch.delenv("RADQA_PSEUDO_KEY", raising=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    rows = []
    for month in months("2025-01", "2025-08"):
        for i in range(25):
            study = f"1.2.{month.replace('-', '')}.{i}"
            day = f"{month}-{i + 1:02d}T10:00:00"
            versions = ("1.0", "2.0") if month == "2025-08" else ("1.0",)
            rows += [f"{study},P{i:03d},SiteA,{day},CR,ptx,M,{v},0.2" for v in versions]
    path = write(tmp_path / "predictions.csv", "\n".join([PRED_HEADER, *rows]))
    (result,) = ingest_files(data_dir, "predictions", [path])
    assert (result.status, result.inserted) == ("committed", 8 * 25 + 25)
    con = open_snapshot(data_dir)
    yield con
    con.close()


def test_a_version_scoring_the_same_studies_side_by_side_has_a_share_of_100_percent(
    side_by_side: Any,
) -> None:
    """2.0 scored 25 of the 25 studies M scored at SiteA in 2025-08: 100%, n = 25 (was 50%: the
    denominator counted the 50 study-version pairs); 150 studies of M in the reference."""
    con = side_by_side
    assert con.execute("select count(*), count(distinct study_uid) from predictions").fetchone() \
        == (225, 200)  # fmt: skip
    assert _alerts(con, "2025-08", [VERSION]) == [("SiteA", "2.0", "2025-08", 1, 1.0, 25, 150)]
    rows = monitor(con, month="2025-08", reference=REFERENCE, rules=[VERSION]).new_categories
    assert list(zip(rows["category"], rows["n"], rows["value"], strict=True)) == [
        ("2.0", 25.0, 1.0)
    ]


def test_a_drift_shorter_than_the_rule_s_persistence_says_why_it_raises_no_alert() -> None:
    """A re-tester's fault: under a rule of persistence 2, a version first judged this month
    was listed with Status "drift" and no alert, and nothing said why. Version 2 at B: 3 (not
    judged), 0, 12, 11 studies in 2025-07..10: drifting 1 month in 2025-09, 2 in 2025-10.
    At A 12, 12, 9 (not judged), 15: its run starts again in 2025-10."""
    from metrics import new_category_status
    from reports._render import _new_months

    rule = replace(VERSION, persistence=2)
    con = _version_store({"A": [12, 12, 9, 15], "B": [3, 0, 12, 11]})
    words = {}
    for month in ("2025-09", "2025-10"):
        result = monitor(con, month=month, reference=REFERENCE, rules=[rule])
        rows = result.new_categories.sort_values("site")
        said = new_category_status(rows, {rule.name: 10}, {rule.name: 2})
        words[month] = list(zip(rows["site"], rows["run"], said, strict=True))
        for row, w in zip(rows.to_dict("records"), said, strict=True):
            words[month].append(_new_months({**row, "status_words": w}))
        words[month].append(sorted(a.group["site"] for a in result.alerts))
    assert words["2025-09"] == [
        ("A", 0, "not judged: 9 studies this month, fewer than the rule's minimum of 10"),
        ("B", 1, "drift: no alert yet; the rule alerts after 2 months in a row (1 so far)"),
        "not judged: 9 studies this month, fewer than the rule's minimum of 10",
        "3 (no alert yet; the rule alerts after 2 months in a row (1 so far))",
        [],
    ]
    # A's month under min_n broke its run: 1 month in a row again, while its months count on
    assert words["2025-10"] == [
        ("A", 1, "drift: no alert yet; the rule alerts after 2 months in a row (1 so far)"),
        ("B", 2, "drift"),
        "4 (no alert yet; the rule alerts after 2 months in a row (1 so far))",
        "4",
        ["B"],
    ]
    # without the rules' persistence (or with persistence 1) a drift is a drift
    assert new_category_status(rows, {rule.name: 10}) == ["drift", "drift"]
