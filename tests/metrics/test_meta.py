"""Heterogeneity and pooling: metafor's published BCG-vaccine results and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from metrics._meta import heterogeneity
from metrics._proportions import proportion_ci
from radqa.errors import InputError

# metafor dat.bcg (Colditz et al. 1994): tpos, tneg, cpos, cneg per trial
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
    # I2 92.1173 %
    h = heterogeneity(bcg)
    assert round(h.random_dl.value, 4) == -0.7141
    assert (round(h.random_dl.low, 4), round(h.random_dl.high, 4)) == (-1.0644, -0.3638)
    assert round(h.tau2_dl, 4) == 0.3088
    assert round(100 * h.i2.value, 4) == 92.1173


def test_bcg_reml(bcg):
    # metafor rma(method="REML"): tau2 0.3132433, estimate -0.7145323, se 0.1798,
    # CI (-1.0669, -0.3622)
    h = heterogeneity(bcg)
    assert h.tau2_reml == pytest.approx(0.3132433, abs=1e-6)
    assert h.random_reml.value == pytest.approx(-0.7145323, abs=1e-6)
    assert round(h.random_reml.se, 4) == 0.1798
    assert (round(h.random_reml.low, 4), round(h.random_reml.high, 4)) == (-1.0669, -0.3622)


def test_i2_interval_higgins_thompson_by_hand(bcg):
    h = heterogeneity(bcg)
    q, k = h.q, 13
    se = 0.5 * (math.log(q) - math.log(k - 1)) / (math.sqrt(2 * q) - math.sqrt(2 * k - 3))
    hh = math.sqrt(q / (k - 1))
    lo, hi = hh * math.exp(-1.959964 * se), hh * math.exp(1.959964 * se)
    assert h.i2.low == pytest.approx(1 - 1 / lo**2, abs=1e-6)
    assert h.i2.high == pytest.approx(1 - 1 / hi**2, abs=1e-6)
    assert (round(h.i2.low, 3), round(h.i2.high, 3)) == (0.883, 0.947)


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
    assert h.i2.note == "one group: heterogeneity undefined"
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
