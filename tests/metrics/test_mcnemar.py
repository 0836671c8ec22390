"""McNemar's test against R's mcnemar.test on Agresti's presidential approval data."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from metrics._tests2x2 import mcnemar
from radqa.errors import InputError


@pytest.fixture
def presidential(reference_dir):
    df = pd.read_csv(reference_dir / "Agresti_presidential_approval_mcnemar.csv")
    t = pd.crosstab(df["approve_survey1"], df["approve_survey2"]).loc[[1, 0], [1, 0]]
    return t.to_numpy()


def test_presidential_without_correction(presidential):
    assert presidential.tolist() == [[794, 150], [86, 570]]
    r = mcnemar(presidential)
    assert round(r.statistic, 4) == 17.3559
    assert f"{r.p_value:.3e}" == "3.099e-05"
    assert r.df == 1
    assert r.method == "McNemar chi-square"
    assert r.estimate.value == pytest.approx((150 - 86) / 1600)
    assert r.estimate.low < r.estimate.value < r.estimate.high


def test_presidential_with_correction(presidential):
    r = mcnemar(presidential, correction=True)
    assert round(r.statistic, 4) == 16.8178
    assert f"{r.p_value:.4e}" == "4.1146e-05"


def test_exact_is_the_binomial_test(presidential):
    r = mcnemar(presidential, exact=True)
    assert r.p_value == pytest.approx(stats.binomtest(86, 236, 0.5).pvalue, rel=1e-10)
    assert r.df is None and r.statistic == 86


def test_symmetric_under_transpose():
    t = [[10, 7], [2, 30]]
    a, b = mcnemar(t), mcnemar([[10, 2], [7, 30]])
    assert a.statistic == b.statistic and a.p_value == b.p_value
    assert a.estimate.value == -b.estimate.value


def test_no_discordant_pairs():
    r = mcnemar([[5, 0], [0, 7]])
    assert math.isnan(r.p_value) and "no discordant pairs" in r.method
    assert mcnemar([[5, 0], [0, 7]], exact=True).p_value == 1.0


def test_wrong_shape():
    with pytest.raises(InputError, match=r"table has shape \(3,\); expected a 2x2 table"):
        mcnemar([1, 2, 3])
