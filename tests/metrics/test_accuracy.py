"""Diagnostic accuracy: Altman 1991 liver scan and properties."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from metrics._accuracy import diagnostic_accuracy
from metrics._proportions import proportion_ci
from radqa.errors import InputError

MEASURES = [
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "accuracy",
    "balanced_accuracy",
    "prevalence",
    "lr_positive",
    "lr_negative",
    "f1",
]


def _liver_counts(reference_dir):
    df = pd.read_csv(reference_dir / "Altman1991_DrumChristacopoulos1972_liverscan.csv")
    truth, test = df["pathology_abnormal"] == 1, df["liver_scan_abnormal"] == 1
    return (
        int((test & truth).sum()),
        int((test & ~truth).sum()),
        int((~test & truth).sum()),
        int((~test & ~truth).sum()),
    )


def test_altman_1991_liver_scan(reference_dir):
    tp, fp, fn, tn = _liver_counts(reference_dir)
    assert (tp, fp, fn, tn) == (231, 32, 27, 54)
    r = diagnostic_accuracy(tp, fp, fn, tn)
    # Altman 1991, section 14.4 (two decimals printed)
    assert round(r.sensitivity.value, 2) == 0.90
    assert round(r.specificity.value, 2) == 0.63
    assert round(r.ppv.value, 2) == 0.88
    assert round(r.npv.value, 2) == 0.67
    assert round(r.prevalence.value, 2) == 0.75
    assert r.sensitivity.value == 231 / 258 and r.specificity.value == 54 / 86
    # statsmodels values named in the reference README
    assert (r.sensitivity.low, r.sensitivity.high) == pytest.approx(
        (0.8520214, 0.9270760), abs=1e-6
    )
    cp = diagnostic_accuracy(tp, fp, fn, tn, method="clopper-pearson").sensitivity
    assert (cp.low, cp.high) == pytest.approx((0.8513977, 0.9298934), abs=1e-6)
    assert r.n == 344


def test_derived_measures_liver_scan():
    r = diagnostic_accuracy(231, 32, 27, 54)
    sens, spec = 231 / 258, 54 / 86
    assert r.accuracy.value == pytest.approx(285 / 344)
    assert r.balanced_accuracy.value == pytest.approx((sens + spec) / 2)
    assert r.lr_positive.value == pytest.approx(sens / (1 - spec))
    assert r.lr_negative.value == pytest.approx((1 - sens) / spec)
    # Simel 1991 log method, by hand
    se = math.sqrt(1 / 231 - 1 / 258 + 1 / 32 - 1 / 86)
    assert r.lr_positive.low == pytest.approx(
        r.lr_positive.value * math.exp(-1.959964 * se), rel=1e-6
    )
    assert r.lr_positive.high == pytest.approx(
        r.lr_positive.value * math.exp(1.959964 * se), rel=1e-6
    )
    assert r.f1.value == pytest.approx(2 * 231 / (2 * 231 + 32 + 27))
    # the F1 limits are the Wilson limits of the Jaccard index mapped through 2J / (1 + J)
    j = proportion_ci(231, 231 + 32 + 27)
    assert r.f1.low == pytest.approx(2 * j.low / (1 + j.low))
    assert r.f1.high == pytest.approx(2 * j.high / (1 + j.high))


@pytest.mark.parametrize("cells", [(231, 32, 27, 54), (3, 0, 1, 9), (0, 4, 5, 6), (10, 0, 0, 5)])
def test_every_interval_contains_its_estimate(cells):
    r = diagnostic_accuracy(*cells)
    for name in MEASURES:
        e = getattr(r, name)
        if e.defined:
            assert e.low - 1e-12 <= e.value <= e.high + 1e-12, name
        assert e.method, name


def test_sensitivity_is_specificity_of_the_swapped_table():
    # swapping the roles of positive and negative: TP <-> TN, FP <-> FN
    r = diagnostic_accuracy(231, 32, 27, 54)
    s = diagnostic_accuracy(54, 27, 32, 231)
    assert s.specificity == r.sensitivity
    assert s.sensitivity == r.specificity
    assert s.ppv == r.npv


def test_counts_of_two_months_add_up():
    # sufficient statistics are mergeable: the table of both months is the sum of the tables
    m1, m2 = (120, 15, 11, 30), (111, 17, 16, 24)
    both = diagnostic_accuracy(*(a + b for a, b in zip(m1, m2, strict=True)))
    assert both.sensitivity.value == pytest.approx((120 + 111) / (120 + 11 + 111 + 16))
    assert (both.tp, both.fp, both.fn, both.tn) == (231, 32, 27, 54)


def test_zero_cells_never_crash_and_say_why():
    r = diagnostic_accuracy(0, 0, 0, 5)
    assert not r.sensitivity.defined
    assert r.sensitivity.note == "no reference positives (TP + FN = 0): sensitivity undefined"
    assert r.ppv.note == "no test positives (TP + FP = 0): PPV undefined"
    assert r.lr_positive.note == "no reference positives: LR+ undefined"
    assert r.f1.note == "no positives in the reference or the test: F1 undefined"
    assert r.specificity.value == 1.0
    perfect = diagnostic_accuracy(10, 0, 0, 5)
    assert perfect.lr_positive.value == pytest.approx((10.5 / 11) / (0.5 / 6))
    assert "0.5 added" in perfect.lr_positive.note
    empty = diagnostic_accuracy(0, 0, 0, 0)
    assert empty.accuracy.note == "no cases: accuracy undefined"


def test_bad_counts():
    with pytest.raises(InputError) as err:
        diagnostic_accuracy(1, -2, 3, 4)
    assert str(err.value) == "fp is -2; expected a non-negative whole number"
    with pytest.raises(InputError, match="unknown proportion CI method"):
        diagnostic_accuracy(1, 2, 3, 4, method="nope")
