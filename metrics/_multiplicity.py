"""Adjusting p-values for multiple comparisons (many sites, scanners, findings at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from metrics._lazy import lazy_function
from radqa.errors import InputError

if TYPE_CHECKING:
    from statsmodels.stats.multitest import multipletests
else:
    multipletests = lazy_function("statsmodels.stats.multitest", "multipletests")

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
    sm_method = _METHODS[key]
    if sm_method in _ROWWISE:
        rows: npt.NDArray[np.float64] = adjust_pvalue_rows(flat[None, :], sm_method)
        return np.asarray(rows[0].reshape(arr.shape), dtype=np.float64)
    out = np.full(flat.shape, np.nan)
    if ok.any():
        out[ok] = multipletests(flat[ok], method=sm_method)[1]
    return out.reshape(arr.shape)


_ROWWISE = ("holm", "fdr_bh", "bonferroni")


def adjust_pvalue_rows(p: npt.ArrayLike, method: str) -> npt.NDArray[np.float64]:
    """Holm, Benjamini-Hochberg or Bonferroni adjustment with one family per row of ``p``.

    Vectorised over rows (e.g. one family per month, its groups in the columns); NaN is left out
    of its row's family and stays NaN. Gives the numbers of statsmodels ``multipletests`` (the
    tests check it), which is not called here because it runs a full garbage collection on every
    call (0.2 s each: minutes over a monitoring run). ``method``: holm, fdr_bh (alias bh),
    bonferroni.
    """
    method = {"bh": "fdr_bh"}.get(method, method)
    arr = np.asarray(p, dtype=float)
    flat = arr.reshape(arr.shape[0], -1)
    order = np.argsort(flat, axis=1, kind="stable")  # NaN sorts last
    ps = np.take_along_axis(flat, order, axis=1)
    m = (~np.isnan(flat)).sum(axis=1, keepdims=True)
    j = np.arange(1, flat.shape[1] + 1)[None, :]
    if method == "holm":
        adj = np.fmax.accumulate(np.minimum(1.0, (m - j + 1) * ps), axis=1)
    elif method == "fdr_bh":
        scaled = np.minimum(1.0, m / j * ps)
        scaled = np.where(np.isnan(scaled), np.inf, scaled)
        adj = np.minimum.accumulate(scaled[:, ::-1], axis=1)[:, ::-1]
    elif method == "bonferroni":
        adj = np.minimum(1.0, m * ps)
    else:
        raise InputError(
            f"unknown p-value adjustment {method!r}; expected one of holm, bh, bonferroni"
        )
    adj = np.where(np.isnan(ps), np.nan, adj)
    out = np.empty_like(flat)
    np.put_along_axis(out, order, adj, axis=1)
    return out.reshape(arr.shape)
