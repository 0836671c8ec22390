"""Heterogeneity and pooling: metafor's published BCG-vaccine results and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from metrics._meta import heterogeneity
from metrics._proportions import proportion_ci
from radqa.errors import InputError

# metafor dat.bcg (Colditz et al. 1994): tpos, tneg, cpos, cneg per trial. They reproduce
# metafor's published Q (152.2330) and REML tau^2 (0.3132433) below to every printed digit.
BCG = np.array(
    [
        [4, 119, 11, 128],
        [6, 300, 29, 274],
        [3, 228, 11, 209],
        [62, 13536, 248, 12619],
        [33, 5036, 47, 5761],
        [180, 1361, 372, 1079],
        [8, 2537, 10, 619],
        [505, 87886, 499, 87892],
        [29, 7470, 45, 7232],
        [17, 1699, 65, 1600],
        [186, 50448, 141, 27197],
        [5, 2493, 3, 2338],
        [27, 16886, 29, 17825],
    ],
    dtype=float,
)


@pytest.fixture
def bcg():
    a, b, c, d = BCG.T
    yi = np.log(a / (a + b)) - np.log(c / (c + d))  # log risk ratio, escalc(measure="RR")
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    return pd.DataFrame(
        {"label": [f"trial {i + 1}" for i in range(13)], "value": yi, "se": np.sqrt(vi)}
    )


def test_bcg_fixed_effect_and_q(bcg):
    # metafor rma(method="FE") = Stata metan: -0.4303 (-0.5097, -0.3509), Q 152.2330
    h = heterogeneity(bcg)
    assert round(h.fixed.value, 4) == -0.4303
    assert (round(h.fixed.low, 4), round(h.fixed.high, 4)) == (-0.5097, -0.3509)
    assert round(h.q, 4) == 152.2330 and h.q_df == 12
    assert h.q_p_value < 1e-20


def test_bcg_dersimonian_laird(bcg):
    # metafor rma(method="DL") = Stata metan randomi: -0.7141 (-1.0644, -0.3638), tau2 0.3088,
    # I2 92.1173 % (the DL tau^2 in tau^2 / (tau^2 + s^2), which is (Q - df) / Q)
    h = heterogeneity(bcg)
    assert round(h.random_dl.value, 4) == -0.7141
    assert (round(h.random_dl.low, 4), round(h.random_dl.high, 4)) == (-1.0644, -0.3638)
    assert round(h.tau2_dl, 4) == 0.3088
    s2 = h.tau2_reml * (1 - h.i2.value) / h.i2.value  # the typical within-study variance
    assert round(100 * h.tau2_dl / (h.tau2_dl + s2), 4) == 92.1173
    assert h.tau2_dl / (h.tau2_dl + s2) == pytest.approx((h.q - h.q_df) / h.q, rel=1e-12)


def test_bcg_reml(bcg):
    # metafor rma(method="REML"): tau2 0.3132433, estimate -0.7145323, se 0.1798,
    # CI (-1.0669, -0.3622)
    h = heterogeneity(bcg)
    assert h.tau2_reml == pytest.approx(0.3132433, abs=1e-6)
    assert h.random_reml.value == pytest.approx(-0.7145323, abs=1e-6)
    assert round(h.random_reml.se, 4) == 0.1798
    assert (round(h.random_reml.low, 4), round(h.random_reml.high, 4)) == (-1.0669, -0.3622)


def _q_gen(tau2, y, v):
    """The generalised Q statistic, written again here: sum (y - mu)^2 / (v + tau^2)."""
    mu = np.average(y, weights=1 / (v + tau2))
    return float(np.sum((y - mu) ** 2 / (v + tau2)))


def test_bcg_q_profile_matches_metafor_confint(bcg):
    # metafor tests/testthat/test_misc_confint.r (wviechtb/metafor), confint() of
    # rma(yi, vi, data=escalc(measure="RR", ..., data=dat.bcg)): tau^2 CI 0.1197 to 1.1115,
    # I^2(%) CI 81.9177 to 97.6781, H^2 CI 5.5303 to 43.0680 (that test fits DL, but the
    # Q-profile bounds do not depend on the estimator). With the REML fit (metafor's default)
    # the estimates are tau^2 0.3132, tau 0.5597 (0.3460, 1.0543), I^2 92.22 %, H^2 12.86.
    # metafor's uniroot stops at tol = 1.2e-4 in tau^2, so its lower bounds carry ~2e-5 of
    # error: I^2 81.9177 % here is 81.9206 %, found to 1e-14 (checked below on the equation).
    h = heterogeneity(bcg)
    t = h.tau2
    assert (round(t.value, 4), round(t.low, 4), round(t.high, 4)) == (0.3132, 0.1197, 1.1115)
    assert t.method == "tau^2 (REML) with Q-profile CI (Viechtbauer 2007)" and t.note is None
    tau = [round(math.sqrt(x), 4) for x in (t.value, t.low, t.high)]
    assert tau == [0.5597, 0.3460, 1.0543]
    i2 = h.i2
    assert i2.method == "I^2 (REML tau^2) with Q-profile CI (Viechtbauer 2007)"
    assert round(100 * i2.value, 2) == 92.22
    assert 100 * i2.low == pytest.approx(81.9177, abs=5e-3)
    assert 100 * i2.high == pytest.approx(97.6781, abs=5e-4)
    assert (round(i2.low, 3), round(i2.high, 3)) == (0.819, 0.977)
    h2 = [1 / (1 - x) for x in (i2.value, i2.low, i2.high)]
    assert h2 == pytest.approx([12.86, 5.5303, 43.0680], abs=5e-3)
    assert i2.low < i2.value < i2.high and t.low < t.value < t.high


def test_bcg_q_profile_bounds_solve_the_q_equation(bcg):
    y, v = bcg["value"].to_numpy(), bcg["se"].to_numpy() ** 2
    t = heterogeneity(bcg).tau2
    assert _q_gen(t.low, y, v) == pytest.approx(stats.chi2.ppf(0.975, 12), rel=1e-10)
    assert _q_gen(t.high, y, v) == pytest.approx(stats.chi2.ppf(0.025, 12), rel=1e-10)
    assert (round(_q_gen(t.low, y, v), 3), round(_q_gen(t.high, y, v), 3)) == (23.337, 4.404)
    t90 = heterogeneity(bcg, alpha=0.10).tau2
    assert t.low < t90.low < t90.high < t.high


def test_small_q_equal_variances_closed_form():
    # three sites with nearly equal estimates: Q = 0.08 < df = 2. The Higgins & Thompson
    # interval was 0 % to 0 %. With equal variances v, Q(tau^2) = S / (v + tau^2), S the sum
    # of squares about the mean, so the Q-profile upper bound is S / chi2_{2, 0.025} - v.
    df = pd.DataFrame({"label": list("abc"), "value": [0.30, 0.32, 0.28], "se": [0.1] * 3})
    h = heterogeneity(df)
    v, ss = 0.01, 0.0008
    assert h.q == pytest.approx(0.08) and h.q < h.q_df
    tau2_high = ss / stats.chi2.ppf(0.025, 2) - v
    assert h.tau2.high == pytest.approx(tau2_high, rel=1e-10)
    assert h.tau2.low == 0.0 and h.tau2.value == 0.0 and h.tau2_reml == 0.0
    assert h.i2.high == pytest.approx(tau2_high / (tau2_high + v), rel=1e-10)  # s^2 = v
    assert round(h.i2.high, 4) == 0.3671  # 1 - v chi2_{2, 0.025} / S = 1 - 0.01 * 0.05064 / 0.0008
    assert (h.i2.value, h.i2.low) == (0.0, 0.0) and h.i2.note is None


def test_small_q_unequal_variances_against_brentq_on_the_formula():
    # three sites' sensitivities (45/50, 88/100, 27/30) on the logit scale: Q well below df
    df = pd.DataFrame({"label": list("abc"), "count": [45, 88, 27], "nobs": [50, 100, 30]})
    h = heterogeneity(df, scale="logit")
    y, v = h.groups["y"].to_numpy(), h.groups["se_y"].to_numpy() ** 2
    assert h.q < h.q_df
    crit = stats.chi2.ppf(0.025, 2)
    expected = optimize.brentq(lambda t: _q_gen(t, y, v) - crit, 0, 100, xtol=1e-14)
    assert h.tau2.high == pytest.approx(expected, rel=1e-8)
    w = 1 / v
    s2 = 2 * w.sum() / (w.sum() ** 2 - (w**2).sum())
    assert h.i2.high == pytest.approx(expected / (expected + s2), rel=1e-8)
    assert h.i2.low == 0.0 and h.i2.high > 0.5  # three sites cannot rule out large I^2


def test_two_groups_get_an_interval():
    # k = 2 with Q <= 2 had no interval at all; the Q-profile method needs only k >= 2
    df = pd.DataFrame({"label": ["a", "b"], "value": [0.30, 0.40], "se": [0.1, 0.1]})
    h = heterogeneity(df)
    assert h.q == pytest.approx(0.5)
    tau2_high = 0.005 / stats.chi2.ppf(0.025, 1) - 0.01  # S = 0.005, v = 0.01
    assert h.tau2.high == pytest.approx(tau2_high, rel=1e-10)
    assert h.i2.low == 0.0 and h.i2.high == pytest.approx(tau2_high / (tau2_high + 0.01))


def test_reml_converges_where_truncated_scoring_oscillated():
    # nine groups, sampling variances 0.05 to 1.1: the REML maximum is at 0.0101, the Fisher
    # step from 0 overshoots it more than twice, and scoring truncated at 0 jumped between 0
    # and 0.0213 for 200 iterations (tau2_reml NaN). Checked by maximising the restricted
    # log-likelihood directly.
    y = np.array([3.551, 2.639, 3.989, 2.951, 3.488, 2.197, 3.491, 3.356, 3.428])
    v = np.array([0.1715, 1.0714, 1.0185, 0.0458, 0.0937, 1.1111, 0.1717, 0.1725, 0.1032])
    h = heterogeneity(pd.DataFrame({"label": list("abcdefghi"), "value": y, "se": np.sqrt(v)}))

    def neg_reml(t):
        w = 1 / (v + t)
        mu = np.sum(w * y) / np.sum(w)
        return 0.5 * (np.sum(np.log(v + t)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    best = optimize.minimize_scalar(neg_reml, bounds=(0, 1), method="bounded",
                                    options={"xatol": 1e-12})  # fmt: skip
    assert h.tau2_reml == pytest.approx(best.x, abs=1e-8)
    assert round(h.tau2_reml, 4) == 0.0101
    assert math.isfinite(h.random_reml.value) and h.i2.low <= h.i2.value <= h.i2.high


def test_reml_outside_the_q_profile_interval_is_said():
    # five sites, sensitivities 9/17 ... 70/98: Q = 11.5 on 4 df, yet the restricted likelihood
    # is highest at tau^2 = 0 (two small sites carry the spread), while Q(0) exceeds the 97.5 %
    # point of chi^2(4): the Q-profile interval starts above 0. Reported as is, with a note.
    df = pd.DataFrame({"label": list("abcde"), "count": [9, 350, 104, 44, 70],
                       "nobs": [17, 477, 140, 47, 98]})  # fmt: skip
    h = heterogeneity(df, scale="logit")
    y, v = h.groups["y"].to_numpy(), h.groups["se_y"].to_numpy() ** 2
    assert h.q == pytest.approx(11.4988, abs=1e-4) and _q_gen(0.0, y, v) > stats.chi2.ppf(0.975, 4)
    assert h.tau2_reml == 0.0 and h.i2.value == 0.0
    assert round(h.tau2.low, 4) == 0.0089 and round(h.i2.low, 3) == 0.151
    assert (
        h.i2.note
        == h.tau2.note
        == (
            "the REML estimate lies outside the Q-profile interval (the two rest on different "
            "criteria; metafor shows the same)"
        )
    )


def test_dl_matches_statsmodels_when_tau2_positive(bcg):
    h = heterogeneity(bcg)
    res = combine_effects(bcg["value"].to_numpy(), bcg["se"].to_numpy() ** 2, method_re="dl")
    assert h.tau2_dl == pytest.approx(res.tau2, rel=1e-12)
    assert h.random_dl.value == pytest.approx(res.mean_effect_re, rel=1e-12)
    assert h.groups["weight_dl"].to_numpy() == pytest.approx(np.asarray(res.weights_rel_re))


def test_weights_sum_to_one_and_forest_columns(bcg):
    g = heterogeneity(bcg).groups
    assert list(g.columns) == [
        "label",
        "value",
        "low",
        "high",
        "y",
        "se_y",
        "weight_fixed",
        "weight_dl",
        "weight_reml",
    ]
    for col in ("weight_fixed", "weight_dl", "weight_reml"):
        assert g[col].sum() == pytest.approx(1.0)
    assert (g["low"] < g["value"]).all() and (g["value"] < g["high"]).all()


def test_homogeneous_groups_truncate_tau2_at_zero():
    df = pd.DataFrame({"label": list("abc"), "value": [0.30, 0.31, 0.29], "se": [0.1, 0.1, 0.1]})
    h = heterogeneity(df)
    assert h.q < h.q_df and h.tau2_dl == 0.0 and h.tau2_reml == 0.0 and h.i2.value == 0.0
    # Q = 0.02 is below chi2_{2, 0.025} = 0.0506: the Q-profile interval is empty (metafor's
    # "null set"), said so rather than shown as 0 % to 0 %
    assert math.isnan(h.i2.low) and math.isnan(h.i2.high) and math.isnan(h.tau2.high)
    assert (
        h.i2.note
        == h.tau2.note
        == (
            "no interval: Q = 0.02 is below the 0.025 quantile of chi^2(2), 0.0506; the groups "
            "agree more closely than their standard errors predict "
            "(the Q-profile interval is empty)"
        )
    )
    assert h.random_dl.value == pytest.approx(h.fixed.value)
    assert (h.random_reml.value, h.random_reml.se) == pytest.approx((h.fixed.value, h.fixed.se))


def test_estimate_pairs_equal_dataframe_and_low_high_input():
    ests = [
        ("site A", proportion_ci(45, 50)),
        ("site B", proportion_ci(80, 100)),
        ("site C", proportion_ci(30, 40)),
    ]
    from_pairs = heterogeneity(ests, scale="logit")
    df = pd.DataFrame(
        {
            "label": [s for s, _ in ests],
            "value": [e.value for _, e in ests],
            "se": [e.se for _, e in ests],
        }
    )
    from_df = heterogeneity(df, scale="logit")
    assert from_pairs.q == pytest.approx(from_df.q)
    # logit-scale variance from the Wald se is the usual 1 / (n p (1 - p))
    assert from_pairs.groups["se_y"].iloc[0] == pytest.approx(math.sqrt(1 / 45 + 1 / 5))
    assert (
        0
        < from_pairs.random_reml.low
        < from_pairs.random_reml.value
        < from_pairs.random_reml.high
        < 1
    )
    ident = pd.DataFrame(
        {"label": ["a", "b"], "value": [0.1, 0.3], "low": [0.0, 0.1], "high": [0.2, 0.5]}
    )
    h = heterogeneity(ident)
    assert h.groups["se_y"].tolist() == pytest.approx([0.2 / 3.919928, 0.4 / 3.919928], rel=1e-6)


def test_logit_counts_with_zero_cell_correction():
    df = pd.DataFrame({"label": ["a", "b", "c"], "count": [20, 18, 30], "nobs": [20, 20, 35]})
    h = heterogeneity(df, scale="logit")
    assert h.groups["y"].iloc[0] == pytest.approx(math.log(20.5 / 0.5))
    assert h.groups["value"].iloc[0] == 1.0
    assert 0 < h.random_dl.value < 1


def test_single_group():
    h = heterogeneity([("only", proportion_ci(8, 10))])
    assert h.k == 1 and h.q == 0.0 and math.isnan(h.q_p_value)
    assert h.i2.note == h.tau2.note == "one group: heterogeneity undefined"
    assert h.fixed.value == pytest.approx(0.8)


def test_input_errors():
    with pytest.raises(InputError, match="estimates is empty; expected at least one group"):
        heterogeneity([])
    with pytest.raises(InputError, match="unknown scale 'log'"):
        heterogeneity([("a", proportion_ci(1, 2))], scale="log")
    with pytest.raises(InputError) as err:
        heterogeneity([("a", proportion_ci(5, 5)), ("b", proportion_ci(3, 5))], scale="logit")
    assert str(err.value).startswith(
        "group 'a' has proportion 1.0; the logit scale needs 0 < p < 1"
    )
    with pytest.raises(
        InputError, match="estimates has columns label, value; expected label, value"
    ):
        heterogeneity(pd.DataFrame({"label": ["a"], "value": [1.0]}))
    with pytest.raises(InputError) as err:
        heterogeneity(pd.DataFrame({"label": ["a"], "value": [1.0], "se": [0.0]}))
    assert str(err.value) == (
        "group 'a' has value 1.0 and standard error 0.0 on the identity scale; "
        "expected a finite value and se > 0"
    )
