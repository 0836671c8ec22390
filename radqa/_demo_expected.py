"""What the planted effects look like against the reference standard, which is all RadQA measures.

The demo draws a hidden truth per study and finding, the model's score from it, and radiologist
reads that err (:func:`radqa._demo_gen.reader_accuracy`; errors more likely where the score is
ambiguous). RadQA compares the model with the reads, not with the truth. A rare finding makes
this matter: with specificity 0.97-0.99, the readers' false positives are a large share of the
reference positives, and the model (rightly) calls most of them negative, so its sensitivity
against the reference is far below its sensitivity against the truth.

:func:`reference_level` computes, from the demo's own generating model, the values a large demo
shows against the reference standard: for truth ``T`` and score ``s`` a reader calls the finding
present with probability ``p_r(T, s)`` (``1 - e`` on a positive, ``e`` on a negative, where
``e = min((1 - accuracy_r) * hard(s), 0.5)`` and ``hard`` is the generator's weight); a study is
double-read with the configured share, a disagreement adjudicated (to the truth) with the
configured share, else the primary read decides (a tie, as ``reference_standard.sql`` resolves it).
Reader and model errors are independent given the truth and the score; the integrals over the
score's Beta densities are numerical (scipy ``quad``).

:func:`model_version_switches` lists the model versions the demo installs after its reference
window: no planted effect (a vendor's update), but one the "new model version" rule reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import integrate, stats

from radqa._demo_config import PrevalenceChange, Reading
from radqa._demo_gen import reader_accuracy
from radqa._demo_plan import Plan
from radqa._demo_scores import ScoreDist

__all__ = ["before_after", "model_version_switches", "reference_level", "true_prevalence"]


def _reference_positive(
    t: int, s: float, dist: ScoreDist, sens: np.ndarray, spec: np.ndarray, reading: Reading
) -> float:
    """P(reference standard says present | truth t, score s), averaged over the site's readers."""
    if t:
        hard = (1.0 - s) / dist.miss_mean(True)
        p = 1.0 - np.minimum((1.0 - sens) * hard, 0.5)
    else:
        hard = s / dist.miss_mean(False)
        p = np.minimum((1.0 - spec) * hard, 0.5)
    single = float(p.mean())
    c = p.size
    if c < 2:
        return single
    # primary r and second r' != r, both uniform among the site's readers
    both = np.outer(p, p)  # r says 1 and r' says 1
    split = np.outer(p, 1.0 - p)  # r says 1, r' says 0 (and its transpose: r 0, r' 1)
    a = reading.adjudicated_share
    pair = both + a * t * (split + split.T) + (1.0 - a) * split
    off = ~np.eye(c, dtype=bool)
    double = float(pair[off].mean())
    d = reading.double_read_share
    return (1.0 - d) * single + d * double


def reference_level(
    dist: ScoreDist,
    prevalence: float,
    sens: np.ndarray,
    spec: np.ndarray,
    reading: Reading,
) -> dict[str, float]:
    """Sensitivity and specificity of the model, and the prevalence, against the reference.

    Parameters
    ----------
    dist : the model's score distributions (positives, negatives) and operating point
    prevalence : the true prevalence
    sens, spec : the sensitivity and specificity of each radiologist who reads there
    reading : double-read and adjudication shares

    Examples
    --------
    Perfect readers make the reference the truth:

    >>> from radqa._demo_config import Reading
    >>> d = ScoreDist(3.2, 1.6, 1.3, 4.4, 0.5)
    >>> r = reference_level(d, 0.025, np.ones(4), np.ones(4), Reading())
    >>> round(r["sensitivity"], 4) == round(d.sensitivity, 4), round(r["prevalence"], 4)
    (True, 0.025)
    """
    t0 = dist.threshold
    parts: dict[tuple[int, str], float] = {}
    for t, (a, b) in ((1, (dist.a1, dist.b1)), (0, (dist.a0, dist.b0))):
        density = stats.beta(a, b).pdf

        def integrand(s: float, t: int = t, density: Any = density) -> float:
            return float(density(s)) * _reference_positive(t, s, dist, sens, spec, reading)

        parts[t, "above"] = integrate.quad(integrand, t0, 1.0, limit=200)[0]
        parts[t, "below"] = integrate.quad(integrand, 0.0, t0, limit=200)[0]
        parts[t, "cdf"] = float(stats.beta.cdf(t0, a, b))
    pi = prevalence
    ai_pos_ref_pos = pi * parts[1, "above"] + (1 - pi) * parts[0, "above"]
    ref_pos = ai_pos_ref_pos + pi * parts[1, "below"] + (1 - pi) * parts[0, "below"]
    ai_neg_ref_neg = pi * (parts[1, "cdf"] - parts[1, "below"]) + (1 - pi) * (
        parts[0, "cdf"] - parts[0, "below"]
    )
    return {
        "sensitivity": ai_pos_ref_pos / ref_pos,
        "specificity": ai_neg_ref_neg / (1.0 - ref_pos),
        "prevalence": ref_pos,
    }


def true_prevalence(plan: Plan, site: str, j: int, month: int) -> float:
    """The prevalence of finding ``j`` at ``site`` in month offset ``month`` (planted changes
    included, capped at 0.95 as the generator does)."""
    p = plan.config.findings[j].prevalence
    name = plan.config.findings[j].name
    for e in plan.config.effects:
        if (
            isinstance(e, PrevalenceChange)
            and (e.site, e.finding) == (site, name)
            and plan.starts[e.id] <= month
        ):
            p = float(e.applied(p))
    return p


def before_after(
    plan: Plan, site: str, j: int, after: ScoreDist, start: int, *, prevalence: bool = False
) -> dict[str, list[float]]:
    """Sensitivity and specificity against the reference standard at ``site`` for finding
    ``j``, in the reference window (the plan's score distributions) and from month offset
    ``start`` on (``after``); the prevalence too when ``prevalence``. Rounded to 4 places."""
    sens, spec = reader_accuracy(plan)
    k = [s.name for s in plan.config.sites].index(site)
    first, count = (int(x) for x in plan.site_radiologists[k])
    readers = slice(first, first + count)
    values = [
        reference_level(
            dist, true_prevalence(plan, site, j, month), sens[readers], spec[readers],
            plan.config.reading,
        )
        for dist, month in ((plan.dists[j], 0), (after, start))
    ]  # fmt: skip
    keys = ["sensitivity", "specificity"] + (["prevalence"] if prevalence else [])
    return {key: [round(v[key], 4) for v in values] for key in keys}


def model_version_switches(plan: Plan) -> list[dict[str, str]]:
    """The model versions first used after the reference window, one entry per site using the
    model (a scanner of a modality one of its findings is read on): ``site``, ``model_name``,
    ``model_version`` and ``start`` (the version's first month, ``'YYYY-MM'``), sorted.

    A version switch is no planted effect (the model's scores do not change with it), but every
    figure before and after it is of a different product: the "new model version" alert rule
    reports each of these at ``start`` and in the months after (it stays new against the
    reference window). Every site switches in the same month: the demo's versions are global.

    Examples
    --------
    >>> from radqa._demo_config import default_config
    >>> from radqa._demo_plan import compile_plan, month_range
    >>> plan = compile_plan(default_config(), seed=7, studies=2400,
    ...                     months=month_range("2026-10", 24))
    >>> sorted({(s["model_name"], s["model_version"], s["start"])
    ...         for s in model_version_switches(plan)})
    [('CT-Lung', '3.1', '2026-04'), ('ChestXR-Triage', '2.2', '2025-07')]
    """
    config = plan.config
    out = []
    for model in config.models:
        modalities = {m for f in config.findings if f.model == model.name for m in f.modalities}
        sites = sorted({s.site for s in plan.scanners if s.modality in modalities})
        for version, offset in model.versions:
            if config.reference_months <= offset < len(plan.months):
                out += [
                    {"site": site, "model_name": model.name, "model_version": version,
                     "start": plan.months[offset]}
                    for site in sites
                ]  # fmt: skip
    return sorted(out, key=lambda d: (d["start"], d["model_name"], d["site"]))
