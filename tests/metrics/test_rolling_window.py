"""Rules with ``window_months = 2``: the window never reaches into the reference, and a window
that holds one month (the first monitored month) is compared as one month (QA qa9/config,
fault 3: constant volumes read as "fell by 50%" in the first monitored month)."""

from __future__ import annotations

import pytest
from scipy import stats

from metrics._monitor import monitor
from metrics._periods import ReferenceWindow
from metrics._rules import parse_rules
from tests.metrics._small_store import Block, months, small_store

REF = ReferenceWindow("2025-01", "2025-06")
ALL = months("2025-01", "2025-09")


def _rule(method: str, metric: str, group_by: str, extra: str = "") -> str:
    return (
        f'[[rule]]\nname = "{method} 2m"\nmethod = "{method}"\nmetric = "{metric}"\n'
        f"group_by = {group_by}\nthreshold = 0.25\nmin_n = 50\nwindow_months = 2\n{extra}"
    )


def _rows(result, rule: str):  # type: ignore[no-untyped-def]
    res = result.results
    return res[res["rule"] == rule].set_index(["site", "month"])


def test_two_month_volume_window_starts_with_the_first_monitored_month_alone() -> None:
    rules = parse_rules(_rule("poisson", "volume", '["site"]'))
    con = small_store(
        [Block("S1", m, 300) for m in ALL]  # constant volume
        + [Block("S3", m, 40 if m == "2025-08" else 100) for m in ALL]  # falls in 08 only
    )
    result = monitor(con, month="2025-09", reference=REF, rules=rules)
    rows = _rows(result, "poisson 2m")
    got = rows[["n", "reference_value", "value", "status", "periods"]]
    assert got.reset_index().values.tolist() == [
        # 07's window holds 07 alone: 300 against the one-month mean 300, not against 600
        ["S1", "2025-07", 300.0, 300.0, 0.0, "ok", 0],
        ["S1", "2025-08", 600.0, 600.0, 0.0, "ok", 0],
        ["S1", "2025-09", 600.0, 600.0, 0.0, "ok", 0],
        ["S3", "2025-07", 100.0, 100.0, 0.0, "ok", 0],
        # 07 + 08 = 140 against two reference months of 100: -0.30
        ["S3", "2025-08", 140.0, 200.0, pytest.approx(-0.3), "drift", 1],
        ["S3", "2025-09", 140.0, 200.0, pytest.approx(-0.3), "drift", 2],
    ]
    assert rows["months_covered"].tolist() == [1, 2, 2, 1, 2, 2]
    # the exact conditional test: 140 of the 140 + 600 studies fall in the two-month window,
    # against 2 / (2 + 6) = 1/4 under equal rates; doubled lower tail
    p = 2 * stats.binom.cdf(140, 740, 0.25)
    assert rows.loc[("S3", "2025-08"), "p_value"] == pytest.approx(p, rel=1e-9)
    # a one-month window: 300 of 300 + 1800 against 1/7, the centre of the distribution
    assert rows.loc[("S1", "2025-07"), "p_value"] == 1.0
    # the run in 09 began in 08, not in the first monitored month
    (alert,) = [a for a in result.alerts if a.group == {"site": "S3"}]
    assert (alert.first_period, alert.periods) == ("2025-08", 2)
    assert [a.group for a in result.alerts] == [{"site": "S3"}]
    # its reading says what it compares: two months against the reference's mean for two
    from reports import alert_readings

    assert alert.evidence["months_covered"] == 2
    [reading] = alert_readings(result.alerts_as_dicts(), result.results, "2025-09", result.rules)
    assert reading.startswith(
        "Study volume at S3 fell by 30% against the reference mean for 2 months (200 to 140 in "
        "the last 2 months); "
    )


def test_two_month_proportion_and_score_windows_hold_no_reference_rows() -> None:
    """Sensitivity 90/100 a month in the reference and in 07, 70/100 in 08: the first window is
    07 alone (n 100, no change), the second 07 + 08 (160/200 = 0.80, -0.10)."""
    rules = parse_rules(
        _rule("two_proportion", "sensitivity", '["site"]')
        + "\n"
        + _rule("psi", "score", '["site", "finding"]')
    )
    tp = {m: 90 for m in ALL} | {"2025-08": 70, "2025-09": 70}
    blocks = []
    for m in ALL:
        blocks += [
            Block("S2", m, tp[m], predicted=True, label=1, score=0.9),
            Block("S2", m, 100 - tp[m], predicted=False, label=1, score=0.1),
        ]
    result = monitor(small_store(blocks), month="2025-08", reference=REF, rules=rules)
    sens = _rows(result, "two_proportion 2m")
    assert sens[["n", "current_value", "value"]].values.tolist() == [
        [100.0, 0.9, pytest.approx(0.0)],
        [200.0, 0.8, pytest.approx(-0.1)],
    ]
    assert sens["reference_value"].tolist() == [pytest.approx(0.9)] * 2
    assert set(sens["n_reference"]) == {600.0}
    psi = _rows(result, "psi 2m")
    assert psi[["n", "n_reference"]].values.tolist() == [[100.0, 600.0], [200.0, 600.0]]
    assert sens["months_covered"].tolist() == psi["months_covered"].tolist() == [1, 2]
    assert psi["value"].iloc[0] == pytest.approx(0.0, abs=1e-12)  # 07 alone matches the reference
