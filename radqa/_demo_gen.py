"""Draw one month of demo studies, predictions and clinical reads, vectorised with numpy.

Each month has its own random stream (``SeedSequence([seed, 1, month])``), so the result does
not depend on how months are chunked. Rows are integer codes into the plan's lookup arrays;
:mod:`radqa._demo_write` turns them into text only when a file is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radqa._demo_config import PerformanceShift, PrevalenceChange, SoftwareUpgrade
from radqa._demo_plan import EXAM_TYPES, Plan, effect_masks

DAY = 86_400
# relative volume by hour of day (0-23): radiography and MR in working hours, CT around the clock
_HOURS = {
    "XR": [1, 1, 1, 1, 1, 1, 2, 5, 10, 12, 12, 11, 8, 10, 11, 10, 9, 7, 5, 3, 2, 2, 1, 1],
    "CT": [3, 3, 2, 2, 2, 2, 3, 5, 8, 10, 10, 10, 9, 10, 10, 10, 9, 8, 7, 6, 5, 5, 4, 4],
    "MR": [0, 0, 0, 0, 0, 0, 0, 2, 8, 10, 10, 10, 8, 10, 10, 10, 9, 8, 6, 4, 2, 0, 0, 0],
}
_WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.35])  # Monday .. Sunday
READ_ROLES = ("primary", "second", "adjudication")


@dataclass
class Patients:
    """Patient pools per (site, exam type): base age in months at the first month, and sex."""

    offset: np.ndarray  # [site, exam] first index into the arrays below
    size: np.ndarray  # [site, exam]
    age_months: np.ndarray  # int16
    sex: np.ndarray  # int8 index into SEXES
    width: int  # digits of the pool index in the patient id


SEXES = ("M", "F", "U", "O")
# (mean, sd) of adult age and the share of children (age 1-17) per exam type
_AGE = {
    ("CR", "CHEST"): (62, 17, 0.04),
    ("DX", "CHEST"): (63, 17, 0.03),
    ("CT", "HEAD"): (64, 19, 0.05),
    ("CT", "CHEST"): (65, 13, 0.01),
    ("MR", "HEAD"): (55, 18, 0.04),
    ("MR", "SPINE"): (56, 15, 0.02),
}


def exam_shares(plan: Plan) -> np.ndarray:
    """Expected share of each exam type at each site in the first month ([site, exam])."""
    out = np.zeros((len(plan.config.sites), len(EXAM_TYPES)))
    for j, s in enumerate(plan.scanners):
        for e, share in plan.exam_of_modality[s.modality]:
            out[plan.scanner_site[j], e] += plan.scanner_weight[0, j] * share
    return out


def make_patients(plan: Plan) -> Patients:
    """Draw the patient pools (about 0.7 patients per study, so some have several studies)."""
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 2]))
    site_w = np.array([s.weight for s in plan.config.sites])
    expected = plan.studies * (site_w / site_w.sum())[:, None] * exam_shares(plan)
    size = np.maximum(20, np.round(0.7 * expected)).astype(np.int64)
    offset = np.concatenate([[0], np.cumsum(size.ravel())[:-1]]).reshape(size.shape)
    ages, sexes = [], []
    for e, exam in enumerate(EXAM_TYPES):  # six exam types, not rows
        mean, sd, child = _AGE[exam]
        n = int(size[:, e].sum())
        adult = np.clip(rng.normal(mean, sd, n), 18, 99)
        years = np.where(rng.random(n) < child, rng.uniform(1, 18, n), adult)
        ages.append((years * 12).astype(np.int16))
        sexes.append(np.searchsorted([0.49, 0.995, 0.999], rng.random(n), side="right"))
    # reorder from exam-major to the [site, exam] layout of ``offset``
    age_all = np.empty(int(size.sum()), dtype=np.int16)
    sex_all = np.empty(int(size.sum()), dtype=np.int8)
    for e in range(len(EXAM_TYPES)):
        pos = 0
        for k in range(size.shape[0]):
            n = int(size[k, e])
            age_all[offset[k, e] : offset[k, e] + n] = ages[e][pos : pos + n]
            sex_all[offset[k, e] : offset[k, e] + n] = sexes[e][pos : pos + n]
            pos += n
    width = max(7, len(str(int(size.max()))))
    return Patients(offset, size, age_all, sex_all, width)


@dataclass
class Month:
    """One month of studies (study arrays) and predictions (row arrays, ``row_*``)."""

    site: np.ndarray
    scanner: np.ndarray
    exam: np.ndarray
    serial: np.ndarray
    time: np.ndarray  # seconds since the epoch
    patient: np.ndarray  # pool index within (site, exam)
    age: np.ndarray
    sex: np.ndarray
    row_study: np.ndarray
    row_finding: np.ndarray
    row_truth: np.ndarray
    row_score: np.ndarray
    reads: dict[str, np.ndarray]


def _pick(
    rng: np.random.Generator, weight: np.ndarray, block: np.ndarray, group: np.ndarray
) -> np.ndarray:
    """Draw an index per row from block ``group`` of ``weight`` (blocks contiguous, each sums to 1).

    Block g spans the cumulative values (g, g + 1]; a zero weight is never drawn.
    """
    cum = np.cumsum(weight)
    ends = np.flatnonzero(np.diff(block, append=-1) != 0)
    cum[ends] = block[ends] + 1.0  # exact block ends despite rounding error
    return np.searchsorted(cum, group + 1.0 - rng.random(group.size), side="left")


def _times(rng: np.random.Generator, plan: Plan, m: int, modality: np.ndarray) -> np.ndarray:
    start = plan.month_start[m].astype(np.int64)
    days = int((plan.month_start[m + 1] - plan.month_start[m]) // np.timedelta64(1, "D"))
    weekday = (np.arange(days) + (start // DAY + 3)) % 7  # 1970-01-01 was a Thursday
    p_day = _WEEKDAY[weekday] / _WEEKDAY[weekday].sum()
    day = rng.choice(days, size=modality.size, p=p_day)
    hour = np.empty(modality.size, dtype=np.int64)
    for key, mods in (("XR", ("CR", "DX")), ("CT", ("CT",)), ("MR", ("MR",))):
        sel = np.isin(modality, mods)
        p = np.array(_HOURS[key], dtype=float)
        hour[sel] = rng.choice(24, size=int(sel.sum()), p=p / p.sum())
    return start + day * DAY + hour * 3600 + rng.integers(0, 3600, modality.size)


def draw_month(plan: Plan, patients: Patients, m: int) -> Month:
    """Draw month ``m``: studies, their predictions, and every clinical read (before cut-off)."""
    cfg = plan.config
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 1, m]))
    n = plan.studies_in_month(m)
    site_w = np.array([s.weight for s in cfg.sites])
    site = rng.choice(len(cfg.sites), size=n, p=site_w / site_w.sum())
    scanner = _pick(
        rng, plan.scanner_weight[m], plan.scanner_site, site
    )  # scanners are ordered by site
    modality = np.array([s.modality for s in plan.scanners])[scanner]
    exam = np.empty(n, dtype=np.int64)
    for mod, exams in plan.exam_of_modality.items():  # four modalities
        sel = modality == mod
        ids = np.array([e for e, _ in exams])
        cum = np.cumsum([p for _, p in exams])
        exam[sel] = ids[np.minimum(np.searchsorted(cum, rng.random(int(sel.sum()))), ids.size - 1)]
    time = _times(rng, plan, m, modality)
    order = np.lexsort((site, time))
    site, scanner, exam, time = site[order], scanner[order], exam[order], time[order]
    serial = np.arange(n, dtype=np.int64)
    size = patients.size[site, exam]
    frequent = rng.random(n) < cfg.repeat_patient_share
    span = np.where(frequent, np.maximum(1, size // 20), size)
    patient = np.minimum((rng.random(n) * span).astype(np.int64), size - 1)
    pool = patients.offset[site, exam] + patient
    age = np.clip((patients.age_months[pool].astype(np.int64) + m) // 12, 0, 130)
    sex = patients.sex[pool]

    counts = np.array([len(f) for f in plan.exam_findings])[exam]
    flat = np.array([j for f in plan.exam_findings for j in f], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum([len(f) for f in plan.exam_findings])[:-1]])
    row_study = np.repeat(np.arange(n), counts)
    within = np.arange(row_study.size) - np.repeat(np.cumsum(counts) - counts, counts)
    row_finding = flat[first[exam[row_study]] + within]
    row_site, row_scanner = site[row_study], scanner[row_study]

    prevalence = np.array([f.prevalence for f in cfg.findings])[row_finding]
    param = row_finding.copy()
    dists = list(plan.dists)
    for effect, mask in effect_masks(plan, m, row_site, row_scanner, row_finding):
        if isinstance(effect, PrevalenceChange):
            prevalence[mask] = effect.applied(prevalence[mask])
            continue
        sens, spec = (
            (effect.sensitivity_drop, effect.specificity_drop)
            if isinstance(effect, PerformanceShift)
            else (0.0, effect.specificity_drop if isinstance(effect, SoftwareUpgrade) else 0.0)
        )
        for u in np.unique(param[mask]):  # a handful of distributions, not rows
            dists.append(dists[u].with_drops(sens, spec))
            param[mask & (param == u)] = len(dists) - 1
    truth = rng.random(row_study.size) < prevalence
    a = np.array([[d.a0, d.a1] for d in dists])[param, truth.astype(np.int64)]
    b = np.array([[d.b0, d.b1] for d in dists])[param, truth.astype(np.int64)]
    score = np.round(rng.beta(a, b), 4)

    # readers err more on the cases the model finds ambiguous: weight 1 on average per class
    mean = np.array([[d.miss_mean(False), d.miss_mean(True)] for d in dists])
    hard = np.where(truth, 1.0 - score, score) / mean[param, truth.astype(np.int64)]
    reads = _draw_reads(rng, plan, m, site, time, row_study, truth, hard)
    return Month(
        site, scanner, exam, serial, time, patient, age, sex, row_study, row_finding, truth, score,
        reads,
    )  # fmt: skip


def _lognormal_days(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return rng.lognormal(np.log(median), sigma, n) * DAY


def reader_accuracy(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Each radiologist's sensitivity and specificity (indexed like ``plan.radiologist_ids``),
    drawn once per seed from the configured ranges."""
    r = plan.config.reading
    n_rads = len(plan.radiologist_ids)
    rs = np.random.default_rng(np.random.SeedSequence([plan.seed, 3]))
    sens = rs.uniform(*r.sensitivity, n_rads)
    spec = rs.uniform(*r.specificity, n_rads)
    return sens, spec


def _draw_reads(
    rng: np.random.Generator,
    plan: Plan,
    m: int,
    site: np.ndarray,
    time: np.ndarray,
    row_study: np.ndarray,
    truth: np.ndarray,
    hard: np.ndarray,
) -> dict[str, np.ndarray]:
    """Primary reads for all, second reads for some studies, adjudication where they disagree.

    A reader errs with probability (1 - sensitivity) * hard on a positive and (1 - specificity)
    * hard on a negative, where ``hard`` (mean 1 per class) is larger where the AI score is
    ambiguous, so that reader and model errors are correlated as on real hard cases.
    """
    r = plan.config.reading
    n, rows = site.size, row_study.size
    first, count = plan.site_radiologists[site, 0], plan.site_radiologists[site, 1]
    sens, spec = reader_accuracy(plan)

    primary = rng.integers(0, count)
    second = (primary + 1 + rng.integers(0, count - 1)) % count
    adjudicator = np.zeros(n, dtype=np.int64)  # the first free of the site's radiologists 0-2
    for _ in range(2):
        taken = (adjudicator == primary) | (adjudicator == second)
        adjudicator = np.where(taken, adjudicator + 1, adjudicator)
    primary, second, adjudicator = first + primary, first + second, first + adjudicator
    t1 = time + np.minimum(
        _lognormal_days(rng, r.delay_median_days, r.delay_sigma, n), r.delay_max_days * DAY
    ).astype(np.int64)
    t2 = t1 + _lognormal_days(rng, r.second_delay_median_days, r.delay_sigma, n).astype(np.int64)
    double = rng.random(n) < r.double_read_share
    ai1 = rng.random(n) < r.ai_assisted_share
    ai2 = rng.random(n) < r.ai_assisted_share
    t3 = np.maximum(t1, t2)[row_study] + _lognormal_days(
        rng, r.adjudication_delay_median_days, r.delay_sigma, rows
    ).astype(np.int64)

    def label(reader: np.ndarray) -> np.ndarray:
        err = np.where(truth, 1.0 - sens[reader], 1.0 - spec[reader]) * hard
        return truth ^ (rng.random(rows) < np.minimum(err, 0.5))

    l1 = label(primary[row_study])
    l2 = label(second[row_study])
    cutoff = plan.cutoff.astype(np.int64)
    has1 = t1[row_study] < cutoff
    has2 = double[row_study] & (t2[row_study] < cutoff)
    has3 = has1 & has2 & (l1 != l2) & (rng.random(rows) < r.adjudicated_share) & (t3 < cutoff)
    idx = [np.flatnonzero(h) for h in (has1, has2, has3)]
    return {
        "row": np.concatenate(idx),
        "reader": np.concatenate(
            [primary[row_study[idx[0]]], second[row_study[idx[1]]], adjudicator[row_study[idx[2]]]]
        ),
        "label": np.concatenate([l1[idx[0]], l2[idx[1]], truth[idx[2]]]),
        "time": np.concatenate([t1[row_study[idx[0]]], t2[row_study[idx[1]]], t3[idx[2]]]),
        "role": np.repeat(np.arange(3, dtype=np.int8), [i.size for i in idx]),
        "ai": np.concatenate([ai1[row_study[idx[0]]], ai2[row_study[idx[1]]], np.zeros(idx[2].size, bool)]),
    }  # fmt: skip
