"""Agreement coefficients: irrCAC's and irr's published numbers, sklearn, statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from metrics import (
    cohen_kappa,
    cohen_kappa_table,
    counts_from_ratings,
    fleiss_kappa,
    fleiss_kappa_by_category,
    fleiss_kappa_test,
    gwet_ac1,
    gwet_ac1_table,
    percent_agreement,
    percent_agreement_table,
)
from radqa.errors import InputError, InsufficientDataError


@pytest.fixture(scope="module")
def abstractors(reference_dir):
    return pd.read_csv(reference_dir / "irrCAC_cont3x3abstractors_table.csv", index_col=0)


@pytest.fixture(scope="module")
def first15(reference_dir):
    return pd.read_csv(reference_dir / "irrCAC_distrib6raters_Fleiss1971_first15.csv", index_col=0)


@pytest.fixture(scope="module")
def diagnoses(reference_dir):
    return pd.read_csv(reference_dir / "irr_diagnoses_Fleiss1971.csv", index_col=0)


@pytest.fixture(scope="module")
def raw4(reference_dir):
    return pd.read_csv(reference_dir / "irrCAC_cac_raw4raters_hypothetical.csv", index_col=0)


@pytest.fixture(scope="module")
def xero(reference_dir):
    return pd.read_csv(reference_dir / "Altman1991_Boyd1982_xeromammograms_2radiologists.csv")


def _ci3(est):
    return (round(est.low, 3), round(est.high, 3))


# irrCAC README: kappa2.table, gwet.ac1.table, pa2.table on cont3x3abstractors
def test_cohen_kappa_table_matches_irrcac(abstractors):
    est = cohen_kappa_table(abstractors)
    assert est.value == pytest.approx(0.7964094, abs=1e-7)
    assert est.se == pytest.approx(0.05891072, abs=1e-8)
    assert _ci3(est) == (0.680, 0.913)


def test_gwet_ac1_table_matches_irrcac(abstractors):
    est = gwet_ac1_table(abstractors)
    assert est.value == pytest.approx(0.8493305, abs=1e-7)
    assert est.se == pytest.approx(0.04321747, abs=1e-8)
    assert _ci3(est) == (0.764, 0.935)


def test_percent_agreement_of_the_table_is_089(abstractors):
    labels_a = np.repeat(np.repeat(abstractors.index, 3), abstractors.to_numpy().ravel())
    labels_b = np.repeat(np.tile(abstractors.columns, 3), abstractors.to_numpy().ravel())
    counts = counts_from_ratings(pd.DataFrame({"a": labels_a, "b": labels_b}))
    assert percent_agreement(counts).value == pytest.approx(0.89, abs=1e-12)
    # the same 100 subjects as labels give the same kappa as the table
    assert cohen_kappa(labels_a, labels_b).value == pytest.approx(0.7964094, abs=1e-7)


def test_cohen_kappa_fleiss_se_comes_from_statsmodels(abstractors):
    est = cohen_kappa_table(abstractors, se_method="fleiss")
    assert est.value == pytest.approx(0.7964094, abs=1e-7)
    assert "Fleiss-Cohen-Everitt" in est.method
    with pytest.raises(InputError, match="se_method must be one of"):
        cohen_kappa_table(abstractors, se_method="bootstrap")


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn_on_xeromammograms(xero, weights):
    ours = cohen_kappa(xero["radiologist_a"], xero["radiologist_b"], weights=weights)
    theirs = cohen_kappa_score(xero["radiologist_a"], xero["radiologist_b"], weights=weights)
    assert ours.value == pytest.approx(theirs, abs=1e-12)
    assert ours.low < ours.value < ours.high


def test_cohen_kappa_is_symmetric_in_its_raters(xero):
    ab = cohen_kappa(xero["radiologist_a"], xero["radiologist_b"], weights="linear")
    ba = cohen_kappa(xero["radiologist_b"], xero["radiologist_a"], weights="linear")
    assert ba.value == pytest.approx(ab.value, abs=1e-14)
    assert ba.se == pytest.approx(ab.se, abs=1e-14)


def test_cohen_kappa_accepts_any_hashable_categories():
    a = ["cat", "cat", "dog", "dog", "bird", "dog"]
    b = ["cat", "dog", "dog", "dog", "bird", "bird"]
    assert cohen_kappa(a, b).value == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


# irrCAC README: gwet.ac1.dist and fleiss.kappa.dist on distrib.6raters (first 15 subjects)
def test_fleiss_kappa_gwet_se_matches_irrcac(first15):
    est = fleiss_kappa(first15)
    assert est.value == pytest.approx(0.4139265, abs=1e-7)
    assert est.se == pytest.approx(0.08119291, abs=1e-8)
    assert _ci3(est) == (0.240, 0.588)


def test_gwet_ac1_matches_irrcac(first15):
    est = gwet_ac1(first15)
    assert est.value == pytest.approx(0.4448007, abs=1e-7)
    assert est.se == pytest.approx(0.08418757, abs=1e-8)
    assert _ci3(est) == (0.264, 0.625)


# R irr kappam.fleiss(diagnoses, detail=TRUE)
def test_fleiss_kappa_all_30_matches_irr_and_statsmodels(diagnoses):
    counts = counts_from_ratings(diagnoses)
    assert counts.shape == (30, 5)
    assert (counts.sum(axis=1) == 6).all()
    est = fleiss_kappa(counts)
    assert est.value == pytest.approx(0.4302445, abs=1e-7)
    assert est.value == pytest.approx(sm_fleiss_kappa(counts.to_numpy()), abs=1e-14)
    test = fleiss_kappa_test(counts)
    assert test.statistic == pytest.approx(17.65183, abs=1e-5)
    assert test.p_value < 1e-60
    assert test.estimate == est


def test_fleiss_kappa_by_category_matches_irr(diagnoses):
    by_cat = fleiss_kappa_by_category(counts_from_ratings(diagnoses))
    assert list(by_cat.index) == [1, 2, 3, 4, 5]
    expected = [0.244755, 0.244755, 0.52, 0.471127, 0.566118]
    assert by_cat.to_numpy() == pytest.approx(expected, abs=1e-6)


# irrCAC README: gwet.ac1.raw, fleiss.kappa.raw, pa.coeff.raw on cac.raw4raters (printed to 5 dp)
def test_missing_ratings_match_irrcac_raw(raw4):
    counts = counts_from_ratings(raw4)
    assert counts.shape == (12, 5)
    assert counts.sum(axis=1).tolist() == [3, 4, 4, 4, 4, 4, 4, 4, 4, 3, 2, 1]
    ac1 = gwet_ac1(counts)
    assert (round(ac1.value, 5), round(ac1.se, 5), _ci3(ac1)) == (0.77544, 0.14295, (0.461, 1.0))
    fk = fleiss_kappa(counts)
    assert (round(fk.value, 5), round(fk.se, 5), _ci3(fk)) == (0.76117, 0.15302, (0.424, 1.0))
    pa = percent_agreement(counts)
    assert pa.value == pytest.approx(0.8181818, abs=1e-7)
    assert (round(pa.se, 5), _ci3(pa)) == (0.12561, (0.542, 1.0))


def test_missing_ratings_refuse_the_null_z_test(raw4):
    with pytest.raises(InputError, match=r"found row totals \[1, 2, 3, 4\]"):
        fleiss_kappa_test(counts_from_ratings(raw4))


def test_counts_from_ratings_leaves_out_unrated_subjects():
    ratings = pd.DataFrame({"r1": ["a", None, "b"], "r2": ["a", None, ""], "r3": ["b", None, "b"]})
    counts = counts_from_ratings(ratings)
    assert counts.index.tolist() == [0, 2]
    assert counts.to_dict("list") == {"a": [2, 0], "b": [1, 2]}


def test_perfect_agreement_is_not_a_zero_width_interval():
    # kappa and AC1 are 1 with a variance of 0: "1.00 (1.00-1.00)" from 4 subjects would claim
    # certainty, so they are not estimable; percent agreement gets Wilson's interval of 4/4
    counts = np.array([[3, 0], [0, 3], [3, 0], [0, 3]])
    for est in (fleiss_kappa(counts), gwet_ac1(counts)):
        assert math.isnan(est.value) and math.isnan(est.low) and math.isnan(est.high)
        assert "not estimable: the variance is 0 (value 1 from 4 subjects" in est.note
    pa = percent_agreement(counts)
    assert pa.value == 1.0
    assert pa.low == pytest.approx(0.5101, abs=1e-4) and pa.high == pytest.approx(1.0)
    assert "Wilson" in pa.method


def test_kappa_of_a_rater_who_never_calls_positive_is_not_estimable():
    # reader B never called a positive: kappa is 0 by construction, its Gwet variance 0; the
    # report printed "0.00 (0.00-0.00)"
    est = cohen_kappa_table([[26, 1], [0, 0]])
    assert math.isnan(est.value) and math.isnan(est.low) and est.se is None
    assert est.note == (
        "not estimable: rater A (rows) used a single category for all 27 subjects, so kappa is "
        "0 by construction"
    )
    perfect = cohen_kappa_table([[3, 0], [0, 4]])  # brain_mass: 1.00 (1.00-1.00) with n = 7
    assert math.isnan(perfect.value)
    assert perfect.note == (
        "not estimable: the raters agreed on all 7 subjects, so kappa is 1 with a variance of 0 "
        "and no confidence interval can be given"
    )
    pa = percent_agreement_table([[3, 0], [0, 4]])
    assert (pa.value, round(pa.low, 4), pa.high) == (1.0, 0.6457, pytest.approx(1.0))
    # a table with spread keeps Gwet's interval
    assert cohen_kappa_table([[20, 3], [2, 5]]).low < cohen_kappa_table([[20, 3], [2, 5]]).high


def test_row_order_does_not_matter(first15):
    shuffled = first15.sample(frac=1.0, random_state=3)
    assert fleiss_kappa(shuffled).value == pytest.approx(fleiss_kappa(first15).value, abs=1e-14)
    assert gwet_ac1(shuffled).se == pytest.approx(gwet_ac1(first15).se, abs=1e-14)


def test_invalid_input_says_what_was_found():
    with pytest.raises(InputError, match=r"non-negative whole counts; found -1 at row 1, column 0"):
        fleiss_kappa([[2, 1], [-1, 3]])
    with pytest.raises(InputError, match=r"must be square .* found \(2, 3\)"):
        cohen_kappa_table([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(InputError, match="same length; found 3 and 2"):
        cohen_kappa([1, 2, 3], [1, 2])
    with pytest.raises(
        InputError, match="1 subject\\(s\\) with a missing label, first at position 1"
    ):
        cohen_kappa([1, None, 3], [1, 2, 3])
    with pytest.raises(InputError, match="weights must be one of"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")
    with pytest.raises(InsufficientDataError, match="at least 2 subjects rated by 2 or more"):
        gwet_ac1([[1, 0], [2, 0]])


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_fleiss_se_equals_statsmodels(xero, weights):
    ours = cohen_kappa(
        xero["radiologist_a"], xero["radiologist_b"], weights=weights, se_method="fleiss"
    )
    table = pd.crosstab(xero["radiologist_a"], xero["radiologist_b"]).to_numpy()
    theirs = sm_cohens_kappa(table, wt=weights)
    assert ours.value == pytest.approx(theirs.kappa, abs=1e-12)
    assert ours.se == pytest.approx(theirs.std_kappa, abs=1e-12)
