"""Score distributions of the demo models, and the Beta parameters that plant a given drop.

A model's score is Beta(a1, b1) on studies with the finding and Beta(a0, b0) without. At the
operating point t, sensitivity is P(score >= t | positive) and specificity P(score < t | negative).
A planted drop keeps b and solves for the a that gives the lowered value (Brent's method).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import integrate, optimize, stats

from radqa.errors import InputError


@dataclass(frozen=True)
class ScoreDist:
    """Beta score distributions of positives (a1, b1) and negatives (a0, b0) at threshold t."""

    a1: float
    b1: float
    a0: float
    b0: float
    threshold: float

    @property
    def sensitivity(self) -> float:
        return float(stats.beta.sf(self.threshold, self.a1, self.b1))

    @property
    def specificity(self) -> float:
        return float(stats.beta.cdf(self.threshold, self.a0, self.b0))

    def miss_mean(self, positive: bool) -> float:
        """The mean of a case's distance from its right answer: 1 - score for positives, the
        score for negatives. Readers err in proportion to a case's distance over this mean
        (``hardness`` in the generator), so that their error rate per class stays as drawn."""
        return self.b1 / (self.a1 + self.b1) if positive else self.a0 / (self.a0 + self.b0)

    def auc(self) -> float:
        """P(score of a positive > score of a negative) = integral of f1(x) F0(x) dx."""
        value, _ = integrate.quad(
            lambda x: stats.beta.pdf(x, self.a1, self.b1) * stats.beta.cdf(x, self.a0, self.b0),
            0.0,
            1.0,
        )
        return float(value)

    def with_drops(self, sensitivity_drop: float, specificity_drop: float) -> ScoreDist:
        """The distributions whose sensitivity and specificity are lower by the given amounts."""
        a1, a0 = self.a1, self.a0
        if sensitivity_drop:
            target = self.sensitivity - sensitivity_drop
            _check_target("sensitivity", target, sensitivity_drop)
            a1 = optimize.brentq(
                lambda a: stats.beta.sf(self.threshold, a, self.b1) - target, 1e-3, 1e3
            )
        if specificity_drop:
            target = self.specificity - specificity_drop
            _check_target("specificity", target, specificity_drop)
            a0 = optimize.brentq(
                lambda a: stats.beta.cdf(self.threshold, a, self.b0) - target, 1e-3, 1e3
            )
        return ScoreDist(float(a1), self.b1, float(a0), self.b0, self.threshold)


def _check_target(metric: str, target: float, drop: float) -> None:
    if not 0.01 < target < 0.99:
        raise InputError(
            f"a {metric} drop of {drop} leaves a {metric} of {target:.3f}; "
            "expected a drop that leaves a value between 0.01 and 0.99"
        )
