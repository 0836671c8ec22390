"""p-value adjustment."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from metrics._multiplicity import adjust_pvalue_rows, adjust_pvalues
from radqa.errors import InputError

P = [0.01, 0.04, 0.03, 0.005, 0.20]


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04, 0.20 times 5, 4, 3, 2, 1, then cumulative max
    expected = [0.04, 0.09, 0.09, 0.025, 0.20]
    assert adjust_pvalues(P, method="holm") == pytest.approx(expected)


def test_bh_by_hand_and_aliases():
    # p_(i) * m / i, then cumulative min from the top: 0.025, 0.025, 0.05, 0.05, 0.20
    expected = [0.025, 0.05, 0.05, 0.025, 0.20]
    for key in ("bh", "fdr_bh", "Benjamini-Hochberg"):
        assert adjust_pvalues(P, method=key) == pytest.approx(expected)


def test_nan_passes_through_and_leaves_the_family():
    with_nan = adjust_pvalues([0.01, np.nan, 0.04, 0.03], method="holm")
    assert np.isnan(with_nan[1])
    assert with_nan[[0, 2, 3]] == pytest.approx(adjust_pvalues([0.01, 0.04, 0.03]))


@pytest.mark.parametrize("method", ["holm", "bh", "bonferroni", "by"])
def test_monotone_and_never_smaller(method):
    rng = np.random.default_rng(7)
    p = rng.uniform(size=50)
    adj = adjust_pvalues(p, method=method)
    order = np.argsort(p)
    assert (np.diff(adj[order]) >= -1e-15).all()
    assert (adj >= p - 1e-15).all() and (adj <= 1).all()


def test_shape_kept_and_empty():
    assert adjust_pvalues([[0.01, 0.5], [0.02, 0.03]]).shape == (2, 2)
    assert adjust_pvalues([]).shape == (0,)


def test_errors():
    with pytest.raises(InputError) as err:
        adjust_pvalues([0.1], method="sidak")
    assert str(err.value) == (
        "unknown p-value adjustment method 'sidak'; expected one of benjamini-hochberg, "
        "benjamini-yekutieli, bh, bonferroni, by, fdr_bh, fdr_by, holm"
    )
    with pytest.raises(
        InputError, match=r"p-value \[1\] is 1.2; expected a number between 0 and 1"
    ):
        adjust_pvalues([0.1, 1.2])


@pytest.mark.parametrize(
    ("method", "sm"), [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")]
)
def test_row_families_equal_statsmodels_row_by_row(method: str, sm: str) -> None:
    rng = np.random.default_rng(11)
    p = rng.random((4, 25)) ** 3
    p[1, 3] = np.nan
    p[2, 7] = p[2, 8]  # ties
    expected = np.full_like(p, np.nan)
    for i, row in enumerate(p):
        ok = ~np.isnan(row)
        expected[i, ok] = multipletests(row[ok], method=sm)[1]
    np.testing.assert_allclose(adjust_pvalue_rows(p, method), expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        adjust_pvalues(p[1], method=method), expected[1], rtol=1e-12, equal_nan=True
    )
