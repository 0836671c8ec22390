"""CBPE: expected confusion counts from calibrated bins, labelled estimate, compared to realised."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics._cbpe import compare_estimates, estimate_from_bins, fit_calibration


def test_expected_counts_from_calibrated_bins() -> None:
    # reference: bin 0 has 1 positive of 10, bin 1 has 8 of 10 -> isotonic p = 0.1, 0.8
    ref = pd.DataFrame({"model_version": "1", "finding": "f", "bin": [0, 1],
                        "n_pos": [1, 8], "n_neg": [9, 2]})  # fmt: skip
    cal = fit_calibration(ref, bins=2)
    assert cal[cal["model_version"] == "1"]["p"].tolist() == pytest.approx([0.1, 0.8])
    pending = pd.DataFrame({"site": "A", "model_version": "1", "finding": "f", "bin": [0, 1],
                            "predicted": [False, True], "n": [100, 50]})  # fmt: skip
    est = estimate_from_bins(pending, cal, by=("site",)).iloc[0]
    assert (est["tp"], est["fp"], est["fn"], est["tn"]) == pytest.approx((40, 10, 10, 90))
    assert est["sensitivity"] == pytest.approx(0.8) and est["specificity"] == pytest.approx(0.9)
    assert est["sensitivity_low"] < 0.8 < est["sensitivity_high"] and est["kind"] == "estimate"
    realised = pd.DataFrame({"site": ["A"], "sensitivity": [0.75], "specificity": [0.99],
                             "accuracy": [0.87]})  # fmt: skip
    cmp = compare_estimates(est.to_frame().T, realised, by=("site",))
    assert cmp.set_index("metric")["difference"].to_dict() == pytest.approx(
        {"sensitivity": -0.05, "specificity": 0.09, "accuracy": 0.87 - 130 / 150}
    )
