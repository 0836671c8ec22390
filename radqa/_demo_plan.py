"""A :class:`DemoConfig` compiled into small lookup arrays for one run (months, weights, effects).

Everything here is per site, scanner, finding or month (tens of entries); the generator then
indexes these arrays with per-row integer codes, so no Python code runs per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radqa._demo_config import (
    MODALITY_BODY_PARTS,
    DemoConfig,
    Effect,
    NewScanner,
    PerformanceShift,
    PrevalenceChange,
    Scanner,
    SoftwareUpgrade,
)
from radqa._demo_scores import ScoreDist
from radqa.errors import InputError

EXAM_TYPES: tuple[tuple[str, str], ...] = tuple(
    (modality, part) for modality, parts in MODALITY_BODY_PARTS.items() for part, _ in parts
)


def month_range(end_month: str, months: int) -> list[str]:
    """The ``months`` calendar months ending with ``end_month`` ("YYYY-MM"), oldest first."""
    try:
        end = np.datetime64(end_month, "M")
    except ValueError as exc:
        raise InputError(f"end_month is {end_month!r}; expected a month such as '2026-10'") from exc
    if len(end_month) != 7 or months < 1:
        raise InputError(
            f"end_month={end_month!r}, months={months}; expected 'YYYY-MM' and months >= 1"
        )
    return [str(end - i) for i in range(months - 1, -1, -1)]


@dataclass
class Plan:
    """Lookup arrays for one run; see :func:`compile_plan`."""

    config: DemoConfig
    seed: int
    studies: int
    months: list[str]
    month_start: np.ndarray  # datetime64[s], one more than months (the cut-off last)
    starts: dict[str, int]  # effect id -> month offset
    scanners: list[Scanner]  # ordered by site
    scanner_site: np.ndarray
    scanner_weight: np.ndarray  # [month, scanner], normalised within each site
    scanner_software: list[list[str]]  # [month][scanner]
    exam_of_modality: dict[str, list[tuple[int, float]]]
    exam_findings: list[list[int]]  # exam type -> finding indices
    model_index: np.ndarray  # finding -> model
    model_version: list[list[str]]  # [month][model]
    dists: list[ScoreDist]  # finding -> base score distributions
    radiologist_ids: list[str]
    site_radiologists: np.ndarray  # [site, 2]: first index and count

    @property
    def cutoff(self) -> np.datetime64:
        return self.month_start[-1]

    def studies_in_month(self, m: int) -> int:
        base, extra = divmod(self.studies, len(self.months))
        return base + (1 if m < extra else 0)


def _start_offset(effect: Effect, months: list[str], reference: int) -> int:
    start = effect.start
    if isinstance(start, str):
        if start not in months:
            raise InputError(
                f"effect {effect.id!r} starts in {start}; expected a month between "
                f"{months[0]} and {months[-1]}"
            )
        offset = months.index(start)
    else:
        offset = int(start)
    if not reference <= offset < len(months):
        raise InputError(
            f"effect {effect.id!r} starts at month offset {offset} ({len(months)} months, "
            f"reference window of {reference}); expected an offset from {reference} to "
            f"{len(months) - 1}, after the reference window"
        )
    return offset


def compile_plan(config: DemoConfig, *, seed: int, studies: int, months: list[str]) -> Plan:
    """Resolve effect start months, scanner weights per month and score distributions."""
    if studies < len(months):
        raise InputError(
            f"--studies is {studies}; expected a whole number, at least one per month "
            f"({len(months)})"
        )
    site_names = [s.name for s in config.sites]
    starts = {e.id: _start_offset(e, months, config.reference_months) for e in config.effects}
    new = [e for e in config.effects if isinstance(e, NewScanner)]
    scanners = sorted(
        [*config.scanners, *(e.scanner for e in new)], key=lambda s: site_names.index(s.site)
    )
    for s in scanners:
        if s.modality not in MODALITY_BODY_PARTS:
            raise InputError(
                f"scanner {s.station} has modality {s.modality!r}; expected one of "
                + ", ".join(MODALITY_BODY_PARTS)
            )
    n_months = len(months)
    weight = np.array([[s.weight for s in scanners]] * n_months, dtype=float)
    software = [[s.software for s in scanners] for _ in range(n_months)]
    for e in new:
        j = scanners.index(e.scanner)
        same = [
            i
            for i, s in enumerate(scanners)
            if s.site == e.scanner.site and s.modality == e.scanner.modality and i != j
        ]
        start = starts[e.id]
        weight[start:, j] = e.share * weight[start:, same].sum(axis=1)
        weight[start:, same] *= 1.0 - e.share
    for up in config.effects:
        if isinstance(up, SoftwareUpgrade):
            hit = [
                i
                for i, s in enumerate(scanners)
                if s.site == up.site and s.model == up.scanner_model
            ]
            if not hit:
                raise InputError(
                    f"effect {up.id!r}: no scanner {up.scanner_model!r} at {up.site!r}; expected "
                    "a scanner model that the site has"
                )
            for m in range(starts[up.id], n_months):
                for i in hit:
                    software[m][i] = up.new_software
    site_of = np.array([site_names.index(s.site) for s in scanners])
    for k in range(len(site_names)):
        totals = weight[:, site_of == k].sum(axis=1)
        if np.any(totals <= 0):
            raise InputError(f"site {site_names[k]!r} has no scanner; expected at least one")
        weight[:, site_of == k] /= totals[:, None]

    exam_of_modality: dict[str, list[tuple[int, float]]] = {}
    for i, (modality, part) in enumerate(EXAM_TYPES):
        share = dict(MODALITY_BODY_PARTS[modality])[part]
        exam_of_modality.setdefault(modality, []).append((i, share))
    exam_findings = [
        [j for j, f in enumerate(config.findings) if mod in f.modalities and f.body_part == part]
        for mod, part in EXAM_TYPES
    ]
    model_names = [m.name for m in config.models]
    model_index = np.array([model_names.index(f.model) for f in config.findings])
    model_version = [
        [max((v for v in m.versions if v[1] <= k), key=lambda v: v[1])[0] for m in config.models]
        for k in range(n_months)
    ]
    dists = [
        ScoreDist(f.pos_a, f.pos_b, f.neg_a, f.neg_b, config.models[model_index[j]].threshold)
        for j, f in enumerate(config.findings)
    ]
    rad_ids: list[str] = []
    site_rads = np.zeros((len(site_names), 2), dtype=np.int64)
    for k, site in enumerate(config.sites):
        if site.radiologists < 3:
            raise InputError(
                f"site {site.name!r} has {site.radiologists} radiologists; expected at least 3 "
                "(a primary, a second and an adjudicating reader)"
            )
        site_rads[k] = (len(rad_ids), site.radiologists)
        rad_ids += [f"RAD-{site.code}-{i:03d}" for i in range(1, site.radiologists + 1)]
    month_start = np.array(
        [np.datetime64(m, "M") for m in months] + [np.datetime64(months[-1], "M") + 1]
    ).astype("datetime64[s]")
    return Plan(
        config=config,
        seed=seed,
        studies=studies,
        months=months,
        month_start=month_start,
        starts=starts,
        scanners=scanners,
        scanner_site=site_of,
        scanner_weight=weight,
        scanner_software=software,
        exam_of_modality=exam_of_modality,
        exam_findings=exam_findings,
        model_index=model_index,
        model_version=model_version,
        dists=dists,
        radiologist_ids=rad_ids,
        site_radiologists=site_rads,
    )


def effect_masks(
    plan: Plan, m: int, site: np.ndarray, scanner: np.ndarray, finding: np.ndarray
) -> list[tuple[Effect, np.ndarray]]:
    """For month ``m``: each effect in force with the boolean mask of the rows it hits."""
    site_names = [s.name for s in plan.config.sites]
    finding_names = np.array([f.name for f in plan.config.findings])
    scanner_models = np.array([s.model for s in plan.scanners])
    out: list[tuple[Effect, np.ndarray]] = []
    for e in plan.config.effects:
        if m < plan.starts[e.id] or isinstance(e, NewScanner):
            continue
        mask = site == site_names.index(e.site)
        if isinstance(e, PerformanceShift | PrevalenceChange) and e.finding is not None:
            mask &= finding_names[finding] == e.finding
        if isinstance(e, SoftwareUpgrade):
            mask &= scanner_models[scanner] == e.scanner_model
        out.append((e, mask))
    return out
