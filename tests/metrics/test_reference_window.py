"""The reference window: the automatic one skips sparse leading months, and alert_rules.toml
can set it (QA qa9/config, fault 4: one prediction dated 2023 in 2025 data moved the window to
2023-01..06, holding that one study, and every check became "insufficient data")."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metrics._monitor import monitor
from metrics._periods import ReferenceWindow, ResolvedReference, first_full_month
from metrics._rules import data_dir_reference, load_rules, parse_reference, parse_rules
from radqa.errors import ConfigError
from tests.metrics._small_store import Block, months, small_store

SENS_DROP = parse_rules(
    '[[rule]]\nname = "sens drop"\nmethod = "two_proportion"\nmetric = "sensitivity"\n'
    'group_by = ["site"]\ndirection = "decrease"\nthreshold = 0.05\nmin_n = 30\n'
)
AUTO = (
    "automatic: the first 6 months from the first month holding at least 10% of the median "
    "month's AI predictions (no [reference] in alert_rules.toml)"
)


def _stray_store():  # type: ignore[no-untyped-def]
    """S1: 300 studies a month in 2025-01..07, 100 positives of which the AI finds 90 (70 in
    07); and one study dated 2023-01."""
    blocks = [Block("S1", "2023-01", 1)]
    for m in months("2025-01", "2025-07"):
        tp = 70 if m == "2025-07" else 90
        blocks += [
            Block("S1", m, tp, predicted=True, label=1),
            Block("S1", m, 100 - tp, label=1),
            Block("S1", m, 200),
        ]
    return small_store(blocks)


def _pooled_z_p(x1: int, n1: int, x0: int, n0: int) -> float:
    pooled = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    return math.erfc(abs(z) / math.sqrt(2))


def test_one_misdated_study_does_not_move_the_automatic_reference() -> None:
    con = _stray_store()
    ref = ReferenceWindow.first_months(6).resolve(con)
    assert (ref.first, ref.last) == ("2025-01", "2025-06")
    assert ref.note == (
        "The reference window starts at 2025-01: the months before it hold too few AI "
        "predictions to stand for the data (2023-01 (1); fewer than 10% of the median month), "
        "perhaps studies with a wrong date. Set the window in the [reference] table of "
        "alert_rules.toml to choose it."
    )
    result = monitor(
        con, month="2025-07", reference=ReferenceWindow.first_months(6), rules=SENS_DROP
    )
    assert result.monitored_months == ["2025-07"]
    (alert,) = result.alerts
    # 70/100 in 07 against 540/600 in the reference: -0.20, pooled z test
    assert alert.group == {"site": "S1"} and alert.value == pytest.approx(-0.2)
    assert (alert.evidence["n"], alert.evidence["n_reference"]) == (100, 600)
    assert alert.evidence["p_value"] == pytest.approx(_pooled_z_p(70, 100, 540, 600), rel=1e-9)


@pytest.mark.parametrize(
    ("counts", "first"),
    [
        ((("2025-01", 60), ("2025-02", 300), ("2025-03", 300)), "2025-01"),  # live on the 25th
        ((("2025-01", 29), ("2025-02", 300), ("2025-03", 300)), "2025-02"),  # under 10% of 300
        ((("2025-01", 30), ("2025-02", 300), ("2025-03", 300)), "2025-01"),  # exactly 10%
        (
            (("2023-01", 1), ("2023-05", 2), *[(m, 300) for m in months("2025-01", "2025-03")]),
            "2025-01",
        ),
        ((("2025-01", 7),), "2025-01"),
    ],
)
def test_first_full_month_is_the_first_to_hold_a_tenth_of_the_median(
    counts: tuple[tuple[str, int], ...], first: str
) -> None:
    got, skipped = first_full_month(counts)
    assert got == first
    assert skipped == [c for c in counts if c[0] < first]


def test_a_window_set_by_hand_is_used_as_given_and_a_thin_one_is_named() -> None:
    con = _stray_store()
    assert ReferenceWindow("2025-02", "2025-05").resolve(con) == ResolvedReference(
        "2025-02", "2025-05", None, None
    )
    # 1 prediction against 10% of 6 months of 300 (180)
    assert ReferenceWindow("2023-01", "2023-06").resolve(con).note == (
        "The reference window 2023-01..2023-06 holds 1 AI predictions, fewer than 10% of 6 "
        "typical months (the median month holds 300): most checks against it will lack data. "
        "Check the [reference] table of alert_rules.toml."
    )


def test_the_rules_file_sets_the_reference_window(tmp_path: Path) -> None:
    assert data_dir_reference(tmp_path) == (ReferenceWindow.first_months(6), AUTO)
    rules = '[[rule]]\nname = "v"\nmethod = "poisson"\nmetric = "volume"\ngroup_by = ["site"]\nthreshold = 0.5\n'  # noqa: E501
    path = tmp_path / "alert_rules.toml"
    path.write_text(rules)
    assert data_dir_reference(tmp_path) == (ReferenceWindow.first_months(6), AUTO)
    path.write_text('[reference]\nfirst = "2025-02"\nlast = "2025-06"\n\n' + rules)
    window, source = data_dir_reference(tmp_path)
    assert (window, source) == (
        ReferenceWindow("2025-02", "2025-06"),
        "set in alert_rules.toml ([reference])",
    )
    assert [r.name for r in load_rules(path)] == ["v"]
    result = monitor(_stray_store(), month="2025-07", reference=window, rules=SENS_DROP)
    assert result.reference == ResolvedReference("2025-02", "2025-06", None, None)
    (alert,) = result.alerts
    assert alert.evidence["n_reference"] == 500
    assert alert.evidence["p_value"] == pytest.approx(_pooled_z_p(70, 100, 450, 500), rel=1e-9)


RULE = '[[rule]]\nname = "v"\nmethod = "poisson"\nmetric = "volume"\ngroup_by = ["site"]\nthreshold = 0.5\n'  # noqa: E501


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('reference = "2025-01..2025-06"\n',
         "top level: reference is '2025-01..2025-06'; expected a [reference] table with first "
         "and last months ('YYYY-MM')"),
        ('[reference]\nstart = "2025-01"\nend = "2025-06"\n',
         "[reference]: unknown keys ['end', 'start']; valid keys: first, last"),
        ('[reference]\nfirst = "2025-01"\n',
         "[reference]: missing key 'last'; expected first and last months ('YYYY-MM')"),
        ('[reference]\nfirst = "2025-1"\nlast = "2025-06"\n',
         "[reference]: first is '2025-1'; expected a month as 'YYYY-MM', e.g. '2025-01'"),
        ('[reference]\nfirst = "2025-01"\nlast = 2025-06-30\n',
         "[reference]: last is datetime.date(2025, 6, 30); expected a month as 'YYYY-MM', e.g. "
         "'2025-01'"),
        ('[reference]\nfirst = "2025-06"\nlast = "2025-01"\n',
         "[reference]: last (2025-01) is before first (2025-06); expected first <= last"),
    ],
)  # fmt: skip
def test_a_bad_reference_table_names_file_key_and_value(table: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_reference(table + "\n" + RULE, "alert_rules.toml")
    assert str(e.value) == f"alert_rules.toml: {message}"


def test_the_default_rules_have_no_reference_table() -> None:
    from metrics._rules import DEFAULT_RULES_TOML

    assert parse_reference(DEFAULT_RULES_TOML) is None
    assert "#   [reference]" in DEFAULT_RULES_TOML
