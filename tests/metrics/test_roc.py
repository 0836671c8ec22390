"""ROC AUC and DeLong: pROC's published numbers on aSAH, sklearn, and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from metrics import compare_aucs, roc_auc
from radqa.errors import InputError, InsufficientDataError


@pytest.fixture(scope="module")
def asah(reference_dir):
    frame = pd.read_csv(reference_dir / "pROC_aSAH.csv")
    frame["y"] = (frame["outcome"] == "Poor").astype(int)  # Good = control, Poor = case
    return frame


# pROC tests/testthat/test-auc.R and test-var.R (see shared/reference/README.md)
PROC = {
    "wfns": (0.823678861788618, 0.00146991470882363),
    "s100b": (0.731368563685637, 0.00266868245717244),
    "ndka": (0.611957994579946, 0.0031908105493913),
}


@pytest.mark.parametrize("score", sorted(PROC))
def test_auc_and_delong_variance_match_proc(asah, score):
    est = roc_auc(asah["y"], asah[score])
    auc, var = PROC[score]
    assert est.value == pytest.approx(auc, abs=1e-12)
    assert est.se**2 == pytest.approx(var, abs=1e-12)
    assert est.value == pytest.approx(roc_auc_score(asah["y"], asah[score]), abs=1e-15)
    assert est.method == "DeLong (1988)"


def test_ndka_ci_matches_proc(asah):
    est = roc_auc(asah["y"], asah["ndka"])
    assert est.low == pytest.approx(0.501244999271703, abs=1e-9)
    assert est.high == pytest.approx(0.722670989888189, abs=1e-9)


def test_paired_delong_wfns_vs_s100b_matches_proc(asah):
    res = compare_aucs(asah["y"], asah["wfns"], asah["s100b"])
    assert res.statistic == pytest.approx(2.20898359144091, abs=1e-9)
    assert res.p_value == pytest.approx(0.0271757822291882, abs=1e-9)
    assert res.estimate.low == pytest.approx(0.0104061769564846, abs=1e-9)
    assert res.estimate.high == pytest.approx(0.174214419249478, abs=1e-9)
    assert res.estimate.value == pytest.approx(PROC["wfns"][0] - PROC["s100b"][0], abs=1e-12)


def test_paired_delong_wfns_vs_ndka_matches_proc(asah):
    res = compare_aucs(asah["y"], asah["wfns"], asah["ndka"])
    assert res.statistic == pytest.approx(2.79777591868904, abs=1e-9)
    assert res.p_value == pytest.approx(0.00514557970691098, abs=1e-9)


def test_swapping_scores_negates_z(asah):
    ab = compare_aucs(asah["y"], asah["wfns"], asah["ndka"])
    ba = compare_aucs(asah["y"], asah["ndka"], asah["wfns"])
    assert ba.statistic == pytest.approx(-ab.statistic, abs=1e-12)
    assert ba.p_value == pytest.approx(ab.p_value, abs=1e-12)


def test_unpaired_is_difference_over_root_sum_of_variances(asah):
    men = asah[asah["gender"] == "Male"]
    women = asah[asah["gender"] == "Female"]
    res = compare_aucs(men["y"], men["s100b"], women["s100b"], paired=False, y_true_b=women["y"])
    a, b = roc_auc(men["y"], men["s100b"]), roc_auc(women["y"], women["s100b"])
    assert res.statistic == pytest.approx((a.value - b.value) / np.hypot(a.se, b.se), rel=1e-12)
    assert res.method == "DeLong (1988) unpaired test"
    swapped = compare_aucs(
        women["y"], women["s100b"], men["s100b"], paired=False, y_true_b=men["y"]
    )
    assert swapped.statistic == pytest.approx(-res.statistic, rel=1e-12)


def test_placement_value_formula_gives_the_delong_variance(asah):
    """The formula documented in metrics/_roc.py for grouped SQL, done here by brute force."""
    y = asah["y"].to_numpy() == 1
    x, z = asah["s100b"].to_numpy()[y], asah["s100b"].to_numpy()[~y]
    m, n = x.size, z.size
    v10 = ((z[None, :] < x[:, None]).sum(1) + 0.5 * (z[None, :] == x[:, None]).sum(1)) / n
    v01 = ((x[None, :] > z[:, None]).sum(1) + 0.5 * (x[None, :] == z[:, None]).sum(1)) / m
    var = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    est = roc_auc(asah["y"], asah["s100b"])
    assert v10.mean() == pytest.approx(est.value, abs=1e-15)
    assert v01.mean() == pytest.approx(est.value, abs=1e-15)
    assert var == pytest.approx(est.se**2, rel=1e-12)


def test_perfect_separation_and_all_ties_are_not_estimable():
    # DeLong's variance is 0 there: "1.00 (1.00-1.00)" would claim certainty from 4 cases
    perfect = roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert math.isnan(perfect.value) and math.isnan(perfect.low) and perfect.se is None
    assert perfect.note == (
        "not estimable: DeLong's variance is 0 (AUC 1 from 2 positive and 2 negative cases, "
        "every placement value equal), so no interval can be given"
    )
    ties = roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])
    assert math.isnan(ties.value) and "AUC 0.5 from 2 positive" in ties.note
    one_overlap = roc_auc([0, 0, 1, 1], [0.1, 0.85, 0.8, 0.9])  # 3 of 4 pairs ordered
    assert one_overlap.value == 0.75 and one_overlap.low < 0.75 < one_overlap.high


def test_ci_contains_estimate_and_stays_in_unit_interval():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 60)
    s = rng.normal(size=60) + y
    est = roc_auc(y, s, alpha=0.1)
    assert 0.0 <= est.low <= est.value <= est.high <= 1.0
    wider = roc_auc(y, s, alpha=0.01)
    assert wider.low < est.low and wider.high > est.high


@pytest.mark.parametrize(
    ("y", "s", "error", "message"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], InputError, "found 1 other value(s), such as [2.0]"),
        (["a", "b"], [0.1, 0.2], InputError, "must hold 0/1 or True/False; found values"),
        ([1, 1, 1], [0.1, 0.2, 0.3], InsufficientDataError, "all 3 cases are positive (1)"),
        (
            [0, 1, 1],
            [0.1, np.nan, 0.3],
            InputError,
            "1 missing (NaN) value(s), first at position 1",
        ),
        ([0, 1, 1], [0.1, 0.2], InputError, "same length; found 3 and 2"),
        ([], [], InputError, "y_true is empty"),
    ],
)
def test_invalid_input_says_what_was_found(y, s, error, message):
    with pytest.raises(error) as info:
        roc_auc(y, s)
    assert message in str(info.value)


def test_paired_with_second_truth_is_refused():
    with pytest.raises(InputError, match="y_true_b was given with paired=True"):
        compare_aucs([0, 1], [0.1, 0.2], [0.3, 0.4], y_true_b=[0, 1])
