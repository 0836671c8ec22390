"""Adjusting p-values for multiple comparisons (many sites, scanners, findings at once)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from statsmodels.stats.multitest import multipletests

from radqa.errors import InputError

# key -> statsmodels method
_METHODS = {
    "holm": "holm",
    "bonferroni": "bonferroni",
    "bh": "fdr_bh",
    "fdr_bh": "fdr_bh",
    "benjamini-hochberg": "fdr_bh",
    "by": "fdr_by",
    "fdr_by": "fdr_by",
    "benjamini-yekutieli": "fdr_by",
}


def adjust_pvalues(p: npt.ArrayLike, *, method: str = "holm") -> npt.NDArray[np.float64]:
    """Adjusted p-values for a family of tests, in the input's order and shape.

    Parameters
    ----------
    p : array-like of float
        Raw p-values in [0, 1]. NaN (a test that could not be run) stays NaN and is left out
        of the family, so it does not change the adjustment of the others.
    method : str
        ``"holm"`` (Holm 1979, family-wise error), ``"bonferroni"``, ``"bh"`` (aliases
        ``"fdr_bh"``, ``"benjamini-hochberg"``; Benjamini & Hochberg 1995, false discovery
        rate) or ``"by"`` (``"fdr_by"``, ``"benjamini-yekutieli"``; Benjamini & Yekutieli
        2001). Computed by statsmodels ``multipletests``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values (an empty input gives an empty array).

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, float("nan"), 0.03], method="holm").round(3).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    key = str(method).strip().lower()
    if key not in _METHODS:
        raise InputError(
            f"unknown p-value adjustment method {method!r}; "
            f"expected one of {', '.join(sorted(_METHODS))}"
        )
    try:
        arr = np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"p-values could not be read as numbers: {p!r}") from None
    flat = arr.ravel()
    ok = ~np.isnan(flat)
    bad = ok & ((flat < 0) | (flat > 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"p-value [{i}] is {float(flat[i])!r}; expected a number between 0 and 1")
    out = np.full(flat.shape, np.nan)
    if ok.any():
        out[ok] = multipletests(flat[ok], method=_METHODS[key])[1]
    return out.reshape(arr.shape)
