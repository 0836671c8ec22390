"""Proportion intervals: published numbers and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep

from metrics._proportions import (
    difference_ci,
    paired_difference_ci,
    proportion_ci,
    proportion_ci_arrays,
    risk_ratio_ci,
)
from radqa.errors import InputError

METHODS = ["wilson", "clopper-pearson", "exact", "agresti-coull", "jeffreys", "wald"]


def test_liver_scan_sensitivity_wilson_and_clopper_pearson():
    # Reference README: statsmodels values for 231/258 (Altman 1991 liver scan)
    w = proportion_ci(231, 258)
    assert (w.low, w.high) == pytest.approx((0.8520214, 0.9270760), abs=1e-6)
    assert w.method == "Wilson score"
    cp = proportion_ci(231, 258, method="clopper-pearson")
    assert (cp.low, cp.high) == pytest.approx((0.8513977, 0.9298934), abs=1e-6)
    assert cp.method == "Clopper-Pearson exact"
    assert proportion_ci(231, 258, method="exact") == cp
    assert w.se == pytest.approx(math.sqrt(0.8953488 * 0.1046512 / 258), rel=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("count,nobs", [(0, 5), (1, 5), (3, 7), (7, 7), (231, 258)])
def test_interval_contains_estimate_and_stays_in_unit_range(method, count, nobs):
    e = proportion_ci(count, nobs, method=method)
    assert e.low - 1e-12 <= e.value <= e.high + 1e-12
    assert e.low >= 0.0 and e.high <= 1.0


def test_wider_interval_at_higher_confidence():
    e95 = proportion_ci(30, 80)
    e99 = proportion_ci(30, 80, alpha=0.01)
    assert e99.low < e95.low and e99.high > e95.high


def test_nobs_zero_is_nan_with_note():
    e = proportion_ci(0, 0)
    assert math.isnan(e.value) and not e.defined
    assert e.note == "nobs is 0: proportion undefined"


@pytest.mark.parametrize(
    "args,message",
    [
        ((-1, 5), "count is -1; expected a non-negative whole number"),
        ((6, 5), "count is 6 but nobs is 5; expected count <= nobs"),
        ((1.5, 5), "count is 1.5; expected a non-negative whole number"),
        ((1, "x"), "nobs is 'x'; expected a non-negative whole number"),
    ],
)
def test_bad_counts_raise(args, message):
    with pytest.raises(InputError) as err:
        proportion_ci(*args)
    assert str(err.value) == message


def test_unknown_method_lists_valid_keys():
    with pytest.raises(InputError, match="unknown proportion CI method 'probit'; expected one of"):
        proportion_ci(1, 2, method="probit")
    with pytest.raises(InputError, match="alpha is 1.5"):
        proportion_ci(1, 2, alpha=1.5)


@pytest.mark.parametrize("method", METHODS)
def test_arrays_match_scalar_version(method):
    counts = np.array([231, 0, 5, 10, 0])
    nobs = np.array([258, 4, 5, 37, 0])
    value, low, high = proportion_ci_arrays(counts, nobs, method=method)
    for i in range(4):
        e = proportion_ci(int(counts[i]), int(nobs[i]), method=method)
        assert (value[i], low[i], high[i]) == pytest.approx((e.value, e.low, e.high), abs=1e-12)
    assert np.isnan([value[4], low[4], high[4]]).all()


def test_arrays_accept_pandas_and_report_the_bad_row():
    value, _, _ = proportion_ci_arrays(pd.Series([1, 2]), pd.Series([2, 4]))
    assert value.tolist() == [0.5, 0.5]
    with pytest.raises(InputError) as err:
        proportion_ci_arrays([1, 5], [2, 4])
    assert str(err.value) == "count[1] is 5 but nobs[1] is 4; expected count <= nobs"


def _fagerland(reference_dir):
    df = pd.read_csv(reference_dir / "Fagerland2015_two_independent_proportions_counts.csv")
    g = df.set_index("group")
    return (
        int(g.loc["group1", "events"]),
        int(g.loc["group1", "n"]),
        int(g.loc["group2", "events"]),
        int(g.loc["group2", "n"]),
    )


@pytest.mark.parametrize(
    "method,low,high",
    [("newcombe", 0.019, 0.34), ("wald", 0.029, 0.32), ("agresti-caffo", 0.012, 0.32)],
)
def test_difference_fagerland_2015(reference_dir, method, low, high):
    # Fagerland, Lydersen & Laake 2015, 7/34 vs 1/34
    c1, n1, c2, n2 = _fagerland(reference_dir)
    assert (c1, n1, c2, n2) == (7, 34, 1, 34)
    e = difference_ci(c1, n1, c2, n2, method=method)
    assert e.value == pytest.approx(6 / 34)
    assert round(e.low, 3) == low
    assert round(e.high, 2) == high
    assert e.method


def test_difference_antisymmetric_in_groups():
    a = difference_ci(7, 34, 1, 34)
    b = difference_ci(1, 34, 7, 34)
    assert (b.value, b.low, b.high) == pytest.approx((-a.value, -a.high, -a.low), abs=1e-9)


def test_risk_ratio_matches_statsmodels_log_and_katz_formula():
    e = risk_ratio_ci(7, 34, 1, 34)
    assert e.value == pytest.approx(7.0)
    low, high = confint_proportions_2indep(7, 34, 1, 34, compare="ratio", method="log")
    assert (e.low, e.high) == pytest.approx((low, high), rel=1e-12)
    se = math.sqrt(1 / 7 - 1 / 34 + 1 / 1 - 1 / 34)
    assert e.low == pytest.approx(7 * math.exp(-1.959963985 * se), rel=1e-8)


def test_risk_ratio_zero_cells():
    e = risk_ratio_ci(0, 20, 5, 20)
    assert e.value == pytest.approx((0.5 / 21) / (5.5 / 21))
    assert "0.5 added" in e.note
    assert e.low < e.value < e.high
    both = risk_ratio_ci(0, 20, 0, 20)
    assert math.isnan(both.value) and both.note == "no events in either group: ratio undefined"


# ------------------------------------------------------------------ paired


def test_paired_newcombe_published_cavo_2012():
    # Fagerland, Lydersen & Laake (2017) ch. 8, Cavo et al. 2012: -0.0621 (-0.1186 to -0.0046)
    e = paired_difference_ci([[59, 6], [16, 80]])
    assert round(e.value, 4) == -0.0621
    assert (round(e.low, 4), round(e.high, 4)) == (-0.1186, -0.0046)


def test_paired_tango_bentur_2009():
    # Bentur et al. 2009 (Fagerland et al. 2014): Tango -0.286 (-0.517 to -0.026)
    e = paired_difference_ci([[1, 1], [7, 12]], method="tango")
    assert round(e.value, 3) == -0.286
    assert (round(e.low, 3), round(e.high, 3)) == (-0.517, -0.026)


def _presidential(reference_dir):
    df = pd.read_csv(reference_dir / "Agresti_presidential_approval_mcnemar.csv")
    t = pd.crosstab(df["approve_survey1"], df["approve_survey2"])
    return t.loc[[1, 0], [1, 0]].to_numpy()


@pytest.mark.parametrize("method", ["newcombe", "tango"])
def test_paired_presidential_sensible(reference_dir, method):
    t = _presidential(reference_dir)
    assert t.tolist() == [[794, 150], [86, 570]]
    e = paired_difference_ci(t, method=method)
    assert e.value == pytest.approx(64 / 1600)
    # Both score intervals sit close to the Wald interval at n = 1600
    wald = (0.04 - 1.96 * e.se, 0.04 + 1.96 * e.se)
    assert e.low == pytest.approx(wald[0], abs=0.002) and e.high == pytest.approx(
        wald[1], abs=0.002
    )
    assert 0 < e.low < e.value < e.high


TABLES = [
    [[59, 6], [16, 80]],
    [[1, 1], [7, 12]],
    [[5, 0], [0, 5]],
    [[0, 5], [0, 0]],
    [[3, 4], [0, 0]],
]


@pytest.mark.parametrize("method", ["newcombe", "tango"])
@pytest.mark.parametrize("table", TABLES)
def test_paired_contains_estimate_and_mirrors_under_transpose(method, table):
    e = paired_difference_ci(table, method=method)
    assert -1 <= e.low <= e.value <= e.high <= 1
    swapped = paired_difference_ci(np.asarray(table).T, method=method)
    assert (swapped.value, swapped.low, swapped.high) == pytest.approx(
        (-e.value, -e.high, -e.low), abs=1e-9
    )


@pytest.mark.parametrize("table", [[[20, 15], [5, 40]], [[20, 11], [6, 40]], [[10, 3], [3, 10]]])
def test_tango_excludes_zero_exactly_when_mcnemar_rejects(table):
    # T(0) is the uncorrected McNemar z = (b - c) / sqrt(b + c)
    b, c = table[0][1], table[1][0]
    z = abs(b - c) / math.sqrt(b + c)
    e = paired_difference_ci(table, method="tango")
    assert (e.low > 0 or e.high < 0) == (z > 1.959963985)


def test_paired_table_validation():
    with pytest.raises(InputError) as err:
        paired_difference_ci([[1, 2, 3], [4, 5, 6]])
    assert str(err.value) == "table has shape (2, 3); expected a 2x2 table of counts"
    with pytest.raises(InputError, match=r"table\[1\]\[0\] is -2"):
        paired_difference_ci([[1, 2], [-2, 4]])
    assert paired_difference_ci([[0, 0], [0, 0]]).note.startswith("table is empty")
