"""CBPE: expected confusion counts from calibrated bins, labelled estimate, compared to realised."""

from __future__ import annotations

import pandas as pd
import pytest

from metrics._cbpe import compare_estimates, estimate_from_bins, fit_calibration


def test_expected_counts_from_calibrated_bins() -> None:
    # reference: bin 0 has 1 positive of 10, bin 1 has 8 of 10 -> isotonic p = 0.1, 0.8
    ref = pd.DataFrame({"model_name": "M", "model_version": "1", "finding": "f", "bin": [0, 1],
                        "n_pos": [1, 8], "n_neg": [9, 2]})  # fmt: skip
    cal = fit_calibration(ref, bins=2)
    assert cal[cal["model_version"] == "1"]["p"].tolist() == pytest.approx([0.1, 0.8])
    pending = pd.DataFrame({"site": "A", "model_name": "M", "model_version": "1", "finding": "f",
                            "bin": [0, 1], "predicted": [False, True], "n": [100, 50]})  # fmt: skip
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


def test_degenerate_estimates_are_not_estimable_and_pending_counts_every_case() -> None:
    # The reviewer's rows: every pending case called negative gave "sens 0.00 (0.00-0.00),
    # spec 1.00 (1.00-1.00)"; 0.2 expected positives gave a sensitivity at all.
    ref = pd.DataFrame({"model_name": "M", "model_version": "1", "finding": "f", "bin": [0, 1],
                        "n_pos": [1, 8], "n_neg": [9, 2]})  # fmt: skip
    cal = fit_calibration(ref, bins=2)
    pending = pd.DataFrame({"site": ["A", "B", "B", "C"], "model_name": "M",
                            "model_version": ["1", "1", "1", "9"],
                            "finding": ["f", "f", "f", "g"], "bin": [0, 0, 1, 0],
                            "predicted": [False, False, True, False],
                            "n": [100, 100, 50, 14]})  # fmt: skip
    est = estimate_from_bins(pending, cal, by=("site",)).set_index("site")
    a = est.loc["A"]  # 100 AI-negative cases, p = 0.1: 10 expected positives, all missed
    assert (a["tp"], a["fn"], a["tn"]) == pytest.approx((0, 10, 90))
    assert pd.isna(a["sensitivity"]) and pd.isna(a["specificity"]) and pd.isna(a["sensitivity_low"])
    why = "not estimable: the AI called every pending case negative, so the estimate is fixed by "
    assert a["not_estimable"] == (
        f"sensitivity: {why}construction and its variance is 0; "
        f"specificity: {why}construction and its variance is 0"
    )
    assert a["accuracy"] == pytest.approx(0.9) and a["accuracy_low"] < 0.9  # accuracy stands
    b = est.loc["B"]
    assert b["specificity"] == pytest.approx(90 / 100) and pd.isna(b["not_estimable"])
    c = est.loc["C"]  # finding g has no calibration: pending, but not estimated
    assert (c["n_pending"], c["n"], c["n_uncalibrated"]) == (14, 0, 14)
    assert pd.isna(c["sensitivity"]) and pd.isna(c["specificity"])
    few = estimate_from_bins(pending[pending["site"] == "A"].assign(n=20), cal, by=("site",))
    assert pd.isna(few["sensitivity"].iloc[0])  # 2 expected positives < min_class = 5
    assert (
        few["not_estimable"]
        .iloc[0]
        .startswith("sensitivity: 2.0 expected positive case(s), fewer than min_class = 5")
    )
