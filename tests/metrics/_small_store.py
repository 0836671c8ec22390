"""Hand-built stores for the monitor's tests: a few sites, whole months, counts chosen so every
expected value can be worked out by hand (after the QA store ``r1`` of session qa9/config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radqa.store import memory_store, refresh_reference


@dataclass(frozen=True)
class Block:
    """``n`` studies of ``site`` in ``month``, one ``ptx`` prediction each, called ``predicted``;
    ``label`` is the reference standard (one primary read), None for unlabelled."""

    site: str
    month: str
    n: int
    predicted: bool = False
    label: int | None = 0
    software: str = "v1"
    score: float | None = None


def small_store(blocks: list[Block]) -> Any:
    """An in-memory store holding ``blocks``; studies fall on days 1..27 of their month."""
    con = memory_store()
    for i, b in enumerate(blocks):
        if not b.n:
            continue
        params = {
            "prefix": f"{b.site}.{b.month}.{i}.",
            "site": b.site,
            "day": f"{b.month}-01",
            "n": b.n,
            "software": b.software,
            "predicted": b.predicted,
            "score": b.score if b.score is not None else (0.9 if b.predicted else 0.1),
        }
        con.execute(
            """insert into studies (study_uid, site, modality, scanner_manufacturer,
                scanner_model, scanner_software, study_datetime, patient_sex)
            select $prefix || i, $site, 'CR', 'Acme', 'ScanA', $software,
                $day::timestamp + to_days(i::integer % 27) + interval 10 hour, 'F'
            from range($n) t(i)""",
            {k: params[k] for k in ("prefix", "site", "day", "n", "software")},
        )
        con.execute(
            """insert into predictions (study_uid, finding, model_name, model_version, score,
                predicted, threshold, threshold_source, row_hash, batch_id)
            select $prefix || i, 'ptx', 'M', '1', $score, $predicted, 0.5, 'file', 0, 1
            from range($n) t(i)""",
            {k: params[k] for k in ("prefix", "n", "score", "predicted")},
        )
        if b.label is not None:
            con.execute(
                """insert into reads (study_uid, finding, reader_pid, read_role, arm, label,
                    read_datetime, ai_assisted, row_hash, batch_id)
                select $prefix || i, 'ptx', 'R1', 'primary', '', $label,
                    $day::timestamp + to_days(i::integer % 27) + interval 12 hour, false, 0, 2
                from range($n) t(i)""",
                {"prefix": params["prefix"], "day": params["day"], "n": b.n, "label": b.label},
            )
    refresh_reference(con)
    return con


def months(first: str, last: str) -> list[str]:
    from metrics._periods import month_range

    return month_range(first, last)
