"""Drift methods against scipy on the same data, and the registry's errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from metrics import METHODS, get_method
from metrics._drift_methods import chi2_homogeneity, psi_from_counts
from radqa.errors import InputError

RNG = np.random.default_rng(3)
CENTRES = (np.arange(50) + 0.5) / 50


def test_chi2_equals_scipy_without_yates() -> None:
    ref = RNG.integers(0, 40, (3, 1, 5)).astype(float)
    cur = RNG.integers(0, 40, (3, 2, 5)).astype(float)
    ref[0, 0, 1] = cur[0, :, 1] = 0  # a category absent from both: dropped
    stat, p = chi2_homogeneity(ref, cur)
    for g in range(3):
        for t in range(2):
            table = np.vstack([ref[g, 0], cur[g, t]])
            r = stats.chi2_contingency(table[:, table.sum(0) > 0], correction=False)
            assert stat[g, t] == pytest.approx(r.statistic) and p[g, t] == pytest.approx(r.pvalue)


def test_ks_and_wasserstein_equal_scipy_on_binned_scores() -> None:
    a = np.histogram(RNG.beta(2, 5, 800), bins=50, range=(0, 1))[0].astype(float)
    b = np.histogram(RNG.beta(2.6, 5, 500), bins=50, range=(0, 1))[0].astype(float)
    ks = get_method("ks").compute(a[None, None], b[None, None])
    raw_a, raw_b = np.repeat(CENTRES, a.astype(int)), np.repeat(CENTRES, b.astype(int))
    ref = stats.ks_2samp(raw_b, raw_a, method="asymp")
    assert ks.value[0, 0] == pytest.approx(ref.statistic)
    # limiting Kolmogorov distribution vs scipy's finite-n asymptotic one: close, not equal
    assert ks.p_value[0, 0] == pytest.approx(ref.pvalue, rel=0.25)
    w = get_method("wasserstein").compute(a[None, None], b[None, None])
    assert w.value[0, 0] == pytest.approx(stats.wasserstein_distance(CENTRES, CENTRES, a, b))


def test_psi_formula_and_no_shift() -> None:
    # two bins 0.5/0.5 vs 0.25/0.75: (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5)
    assert psi_from_counts([50, 50], [25, 75]) == pytest.approx(
        -0.25 * np.log(0.5) + 0.25 * np.log(1.5)
    )
    a = np.histogram(RNG.beta(2, 5, 5000), bins=50, range=(0, 1))[0].astype(float)
    same = get_method("psi").compute(a[None, None], a[None, None])
    assert same.value[0, 0] == pytest.approx(0.0) and same.p_value[0, 0] == pytest.approx(1.0)


def test_two_proportion_fisher_and_newcombe_fagerland() -> None:
    # Fagerland, Lydersen & Laake 2015: 7/34 vs 1/34, Newcombe (0.019, 0.34)
    r = get_method("two_proportion").compute(
        np.array([1.0]), np.array([34.0]), np.array([[7.0]]), np.array([[34.0]])
    )
    assert r.value[0, 0] == pytest.approx(6 / 34)
    assert round(r.ci_low[0, 0], 3) == 0.019 and round(r.ci_high[0, 0], 2) == 0.34
    assert r.p_value[0, 0] == pytest.approx(stats.fisher_exact([[7, 27], [1, 33]])[1])


def test_poisson_volume_no_change_has_p_one() -> None:
    r = get_method("poisson").compute(np.array([[600.0]]), 6, np.array([[100.0, 160.0]]))
    assert r.value[0].tolist() == pytest.approx([0.0, 0.6])
    assert r.p_value[0, 0] == pytest.approx(1.0) and r.p_value[0, 1] < 0.001


def test_poisson_min_n_is_the_reference_monthly_mean_whatever_the_month() -> None:
    method = get_method("poisson")
    # reference totals over 6 months: 600 (mean 100) and 120 (mean 20); months with 0 and 100
    r = method.compute(np.array([[600.0], [120.0]]), 6, np.array([[0.0, 100.0], [0.0, 100.0]]))
    assert r.value.ravel().tolist() == pytest.approx([-1.0, 0.0, -1.0, 4.0])
    assert method.sufficient(r, 50).tolist() == [[True, True], [False, False]]
    # the other methods still need min_n on both sides
    p = get_method("two_proportion").compute(
        np.array([[50.0]]), np.array([[100.0]]), np.array([[0.0, 10.0]]), np.array([[0.0, 40.0]])
    )
    assert p.n.tolist() == [[0.0, 40.0]]
    assert get_method("two_proportion").sufficient(p, 30).tolist() == [[False, True]]


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(InputError) as e:
        get_method("psl")
    assert str(e.value) == f"unknown drift method 'psl'; valid keys: {', '.join(sorted(METHODS))}"


def test_vectorised_fisher_equals_scipy_on_many_small_tables() -> None:
    from scipy.stats import fisher_exact

    from metrics._drift_methods import fisher_exact_two_sided

    rng = np.random.default_rng(5)
    n1 = rng.integers(1, 40, 300)
    n0 = rng.integers(1, 400, 300)
    x1 = rng.binomial(n1, 0.05)
    x0 = rng.binomial(n0, 0.08)
    got = fisher_exact_two_sided(x1, n1, x0, n0)
    expected = [
        fisher_exact([[a, b - a], [c, d - c]])[1] for a, b, c, d in zip(x1, n1, x0, n0, strict=True)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
