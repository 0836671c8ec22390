"""Why a new model version was not judged names the model at its site (it named the site
alone: "no reference months for site Busan", as if the site had sent nothing)."""

from __future__ import annotations

import pandas as pd

from metrics import new_category_status


def test_a_model_the_site_did_not_use_in_the_reference_is_named() -> None:
    new = pd.DataFrame(
        {
            "rule": ["new model version"] * 3,
            "metric": ["model_version"] * 3,
            "site": ["Busan Community Hospital"] * 3,
            "scanner_model": [None] * 3,
            "model_name": ["CT-Lung", "CT-Lung", "ChestXR-Triage"],
            "category": ["3.1", "3.1", "2.2"],
            "n": [40.0, 9.0, 57.0],
            "n_reference": [0.0, 83.0, 900.0],
            "status": ["insufficient data", "insufficient data", "drift"],
        }
    )
    assert new_category_status(new, {"new model version": 10}) == [
        "not judged: no reference months for CT-Lung at Busan Community Hospital (no studies "
        "of it in the reference window)",
        "not judged: 9 studies this month, fewer than the rule's minimum of 10",
        "drift",
    ]
