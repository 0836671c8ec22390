"""Calibration: scikit-learn values exactly, and the logistic recalibration's properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from metrics._calibration import calibration
from radqa.errors import InputError


@pytest.fixture
def data():
    rng = np.random.default_rng(20261126)
    p = rng.uniform(0.02, 0.98, 2000)
    lp = np.log(p / (1 - p))
    y = rng.binomial(1, 1 / (1 + np.exp(-(0.4 + 0.6 * lp))))  # over-confident, too low
    return y, p


def test_brier_and_curve_match_sklearn_exactly(data):
    y, p = data
    c = calibration(y, p, bins=10)
    assert c.brier == brier_score_loss(y, p)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert c.curve["fraction_positive"].to_numpy().tolist() == frac.tolist()
    assert c.curve["mean_predicted"].to_numpy().tolist() == mean.tolist()
    assert c.curve["count"].sum() == c.n == 2000
    counts, _ = np.histogram(p, bins=np.linspace(0, 1, 11))
    assert c.curve["count"].tolist() == counts[counts > 0].tolist()


def test_ece_by_hand():
    y = [0, 0, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.9, 0.7]
    c = calibration(y, p, bins=2)
    # bin [0, .5): preds .1 .2 .3, 1 of 3 positive; bin [.5, 1]: .9 .7, 2 of 2 positive
    expected = 3 / 5 * abs(1 / 3 - 0.2) + 2 / 5 * abs(1.0 - 0.8)
    assert c.ece == pytest.approx(expected, abs=1e-15)
    assert c.curve["bin"].tolist() == [0, 1]


def test_empty_bins_are_left_out():
    c = calibration([0, 1, 1], [0.05, 0.95, 0.92], bins=10)
    assert c.curve["bin"].tolist() == [0, 9]
    assert c.curve["count"].tolist() == [1, 2]


def test_slope_matches_unpenalised_logistic_regression(data):
    y, p = data
    c = calibration(y, p)
    lp = np.log(p / (1 - p)).reshape(-1, 1)
    lr = LogisticRegression(C=math.inf, tol=1e-10, max_iter=1000).fit(lp, y)
    assert c.slope.value == pytest.approx(lr.coef_[0, 0], abs=1e-5)
    assert c.slope.low < 0.6 < c.slope.high  # the slope the data were generated with
    assert c.intercept.value > 0  # the scores are too low on average


def test_recalibrated_scores_have_slope_one_and_intercept_zero(data):
    # score equations of the logistic MLE: refitting on its own fitted values gives (0, 1)
    y, p = data
    c = calibration(y, p)
    lp = np.log(p / (1 - p))
    lr = LogisticRegression(C=math.inf, tol=1e-12, max_iter=1000).fit(lp.reshape(-1, 1), y)
    refit = calibration(y, lr.predict_proba(lp.reshape(-1, 1))[:, 1])
    assert refit.slope.value == pytest.approx(1.0, abs=1e-5)
    assert refit.intercept.value == pytest.approx(0.0, abs=1e-5)
    shifted = 1 / (1 + np.exp(-(lp + c.intercept.value)))
    assert calibration(y, shifted).intercept.value == pytest.approx(0.0, abs=1e-8)


def test_separation_does_not_crash():
    c = calibration([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0])
    assert not c.slope.defined and "logistic fit failed" in c.slope.note
    assert c.brier == 0.0 and c.ece == 0.0


@pytest.mark.parametrize(
    "y,p,message",
    [
        ([], [], "y_true is empty; expected at least one case of each class"),
        ([0, 1], [0.2], "y_true has 2 values but y_score has 1; expected equal"),
        ([0, 2], [0.2, 0.3], "y_true has values 2; expected only 0 and 1"),
        (
            [1, 1],
            [0.2, 0.3],
            "y_true has only class 1; expected both 0 and 1 to assess calibration",
        ),
        ([0, 1], [0.2, 1.3], "y_score[1] is 1.3; expected a probability in [0, 1]"),
        ([0, 1], [0.2, float("nan")], "y_score[1] is nan; expected a probability in [0, 1]"),
    ],
)
def test_input_errors(y, p, message):
    with pytest.raises(InputError) as err:
        calibration(y, p)
    assert str(err.value) == message


def test_bins_must_be_positive():
    with pytest.raises(InputError, match="bins is 0; expected a whole number >= 1"):
        calibration([0, 1], [0.2, 0.8], bins=0)
