"""Table builders of the monthly report (reports._render), on small hand-made tables."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from reports._render import _agreement_tables, _pending_tables, pct


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1 - 12 / 5745, "99.8%"),  # 12 reads pending of 5,745: not complete
        (1.0, "100%"),
        (0.0, "0%"),
        (3 / 5745, "0.1%"),
        (0.9999, "> 99.9%"),
        (0.0001, "< 0.1%"),
        (0.5, "50%"),
        (0.996, "99.6%"),
        (0.994, "99%"),
        (float("nan"), "–"),
    ],
)
def test_pct_never_rounds_to_100_or_0(value: float, shown: str) -> None:
    assert pct(value) == shown


def test_pending_by_week_a_week_with_pending_reads_is_not_100_percent() -> None:
    weeks = pd.DataFrame(
        {
            "period": ["2026-W40", "2026-W41"],
            "days": [7, 7],
            "partial": [False, False],
            "n": [5745, 4000],
            "labelled": [5733, 4000],
            "pending": [12, 0],
            "completeness": [5733 / 5745, 1.0],
        }
    )
    [table] = _pending_tables(SimpleNamespace(tables={"pending_by_week": weeks}))  # type: ignore[arg-type]
    assert table["header"][-1] == "Completeness"
    assert [r[-1] for r in table["rows"]] == ["99.8%", "100%"]


def test_discordant_table_names_the_model_of_each_row() -> None:
    """Two models read the same site and finding: two rows, told apart by their model."""
    site = pd.DataFrame(
        {
            "site": ["Osaka University Hospital"] * 2 + ["Kobe"],
            "finding": ["lung_nodule"] * 2 + ["pneumothorax"],
            "model_name": ["CT-Lung", "ChestXR-Triage", "ChestXR-Triage"],
            "n_labelled": [300, 900, 100],
            "fn": [11, 23, 0],
            "fp": [14, 94, 0],
        }
    )
    finding = pd.DataFrame(columns=["finding", "model_name", "n_labelled", "agreement", "kappa"])
    rep = SimpleNamespace(
        month="2026-10", tables={"performance_site": site, "performance_finding": finding}
    )
    tables = _agreement_tables(rep)  # type: ignore[arg-type]
    disc = next(t for t in tables if t["title"].startswith("Discordant cases"))
    assert disc["header"] == [
        "Site",
        "Finding",
        "Labelled",
        "AI false negatives",
        "AI false positives",
        "Model",
    ]
    assert disc["rows"] == [
        ["Osaka University Hospital", "lung_nodule", "900", "23", "94", "ChestXR-Triage"],
        ["Osaka University Hospital", "lung_nodule", "300", "11", "14", "CT-Lung"],
    ]
    assert disc["note"].startswith("Site x finding x model groups (model versions pooled)")


def test_studies_by_site_reference_mean_groups_thousands_like_the_count_beside_it() -> None:
    """A helper's finding: 'Reference monthly mean' read 1357 next to a count of 1,378."""
    from reports._render import _volume_tables

    vol = pd.DataFrame(
        {
            "month": ["2026-10", "2026-10"],
            "site": ["Osaka", "Kobe"],
            "n": [1378, 212],
            "reference_value": [1357.4, 230.6],
            "value": [0.0152, -0.081],
            "status": ["ok", "ok"],
            "drifting_rules": ["", ""],
        }
    )
    empty = pd.DataFrame(columns=["site", "n", "labelled", "pending", "completeness"])
    tables = {
        "volume_by_month": vol,
        "volume_predictions_site": empty,
        "volume_predictions_scanner": empty.assign(scanner_manufacturer=[], scanner_model=[]),
        "volume_predictions_modality": empty.assign(modality=[]),
    }
    rep = SimpleNamespace(month="2026-10", tables=tables, settings=SimpleNamespace(rules=()))
    [by_site, *_] = _volume_tables(rep)  # type: ignore[arg-type]
    assert by_site["header"][:3] == ["Site", "Studies", "Reference monthly mean"]
    assert [r[:3] for r in by_site["rows"]] == [["Osaka", "1,378", "1,357"], ["Kobe", "212", "231"]]


def test_report_estimates_are_percentages_and_coefficients_decimals() -> None:
    """Proportions in the report's tables read as the dashboard and the alert readings give
    them (92.1%); AUC and kappa stay coefficients."""
    from reports._render import _est

    row = {"sensitivity": 0.9214, "sensitivity_low": 0.8802, "sensitivity_high": 0.95,
           "auc": 0.8712, "auc_low": 0.84, "auc_high": 0.9, "specificity": 0.9,
           "specificity_low": None, "specificity_high": None}  # fmt: skip
    assert _est("sensitivity")(row) == "92.1% (88.0–95.0%)"
    assert _est("specificity")(row) == "90.0%"
    assert _est("auc")(row) == "0.87 (0.84–0.90)"
    assert _est("agreement")({}) == "–"
