"""A fully crossed two-arm reader study (every reader reads every case unaided and aided).

Ratings follow a binormal latent model with a case effect shared by all readers and both arms
(what makes reader-study data correlated; Dorfman, Berbaum & Metz 1992): for case c with truth
t, reader r and arm a, z = t * (d_a + delta_r) + u_c + e, cut into ratings 1-5 at fixed points
shifted by a reader bias. The aided arm has a larger separation d, so its AUC is higher.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from radqa._demo_plan import Plan
from radqa._demo_write import iso_times, study_uids

_CUTS = np.array([0.2, 0.8, 1.3, 1.9])  # latent cut points between ratings 1|2|3|4|5
ARMS = ("unaided", "aided")


def select_cases(plan: Plan, truth: np.ndarray) -> np.ndarray:
    """Indices of the candidate cases, enriched to the configured share of positives."""
    rs = plan.config.reader_study
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 4]))
    pos, neg = np.flatnonzero(truth), np.flatnonzero(~truth)
    k_pos = min(round(rs.cases * rs.positive_share), pos.size)
    k_neg = min(rs.cases - k_pos, neg.size)
    return np.sort(
        np.concatenate(
            [rng.choice(pos, k_pos, replace=False), rng.choice(neg, k_neg, replace=False)]
        )
    )


def reader_study_table(plan: Plan, cases: dict[str, np.ndarray]) -> pa.Table:
    """Rows reader x case x arm for the chosen ``cases`` (site, month, serial, truth arrays)."""
    rs = plan.config.reader_study
    rng = np.random.default_rng(np.random.SeedSequence([plan.seed, 5]))
    n_c, n_r = cases["truth"].size, len(rs.readers)
    truth = cases["truth"].astype(float)
    case_effect = rng.normal(0, rs.case_sd, n_c)
    reader_dev = rng.normal(0, rs.reader_sd, n_r)
    reader_bias = rng.normal(0, 0.2, n_r)
    sep = np.array([rs.separation_unaided, rs.separation_aided])
    z = (
        truth[None, None, :] * (sep[:, None, None] + reader_dev[None, :, None])
        + case_effect[None, None, :]
        + rng.normal(0, rs.noise_sd, (2, n_r, n_c))
    )
    rating = 1 + (z[..., None] - reader_bias[None, :, None, None] > _CUTS).sum(axis=-1)

    cutoff = plan.cutoff.astype(np.int64)
    offset = min(rs.session_offset, len(plan.months) - 1)
    start = min(int(plan.month_start[offset].astype(np.int64)), cutoff - 8 * 7 * 86_400)
    start = max(start, int(plan.month_start[0].astype(np.int64)))
    day = rng.integers(0, 14, (n_r, n_c))
    sec = rng.integers(9 * 3600, 17 * 3600, (2, n_r, n_c))
    time = start + np.array([0, 35])[:, None, None] * 86_400 + day[None] * 86_400 + sec

    shape = (2, n_r, n_c)
    arm = np.broadcast_to(np.arange(2)[:, None, None], shape).ravel()
    reader = np.broadcast_to(np.arange(n_r)[None, :, None], shape).ravel()
    case = np.broadcast_to(np.arange(n_c)[None, None, :], shape).ravel()
    rating = rating.ravel()
    n = rating.size
    return pa.table(
        {
            "study_uid": study_uids(
                plan, cases["site"][case], cases["month"][case], cases["serial"][case]
            ),
            "finding": pa.array([rs.finding] * n, pa.string()),
            "reader_id": pa.DictionaryArray.from_arrays(
                pa.array(reader, pa.int32()), pa.array(list(rs.readers))
            ),
            "label": pa.array((rating >= 3).astype(np.int8)),
            "read_datetime": iso_times(time.ravel()),
            "read_role": pa.array(["primary"] * n, pa.string()),
            "rating": pa.array(rating.astype(np.int8)),
            "ai_assisted": pa.array(arm == 1),
            "arm": pa.DictionaryArray.from_arrays(pa.array(arm, pa.int32()), pa.array(ARMS)),
        }
    )
