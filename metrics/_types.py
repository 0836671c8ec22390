"""The two result shapes every statistic in :mod:`metrics` returns."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval.

    Attributes
    ----------
    value, low, high : float
        The estimate and its interval bounds (NaN when undefined; see ``note``).
    se : float or None
        Standard error, where the method has one.
    method : str
        The interval method, named as a reader of a paper would expect
        (for example ``"Wilson score"`` or ``"DeLong (1988)"``).
    note : str or None
        Why the value is NaN or a convention was applied (for example a zero cell).
    """

    value: float
    low: float
    high: float
    se: float | None
    method: str
    note: str | None = None

    @property
    def defined(self) -> bool:
        """True when the value is a finite number."""
        return not math.isnan(self.value)


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test: its statistic, p-value, degrees of freedom and an optional estimate."""

    __test__ = False  # not a pytest test class

    statistic: float
    p_value: float
    df: float | tuple[float, ...] | None
    estimate: Estimate | None = None
    method: str = ""


#: A standard error at or below this is 0: a variance that is exactly 0 comes out of float sums
#: as a rounding residue far below any real one (n = 10^8 cases gives SEs above 1e-5). Below it,
#: an estimate has no interval (it would have zero width) and is "not estimable".
ZERO_SE = 1e-10


def nan_estimate(method: str, note: str) -> Estimate:
    """An undefined estimate that says why."""
    nan = float("nan")
    return Estimate(nan, nan, nan, None, method, note)
