"""``radqa export trial``: trial statistics for STARD 2015 / CLAIM / CONSORT-AI as XLSX, CSV, JSON.

All numbers come from :func:`metrics.trial_tables`; this module only adds the provenance and the
methods paragraph and writes the files: one workbook with a sheet per table, a CSV per table and
one JSON document with everything.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from metrics import trial_tables
from metrics._cache import disk_read_only
from radqa.errors import InputError
from radqa.store import open_snapshot, snapshot_info, snapshot_path
from reports._trial_text import methods_paragraph, provenance_rows, references, sha256_file
from reports._trial_xlsx import write_workbook

FORMATS = ("xlsx", "csv", "json")
STEM = "trial"


def _date(value: str | dt.date | None, flag: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{flag} is {value!r}; expected a date such as 2026-10-01") from None


def _formats(formats: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InputError(
            f"--format has {', '.join(unknown) or 'nothing'}; expected a comma-separated list "
            f"of {', '.join(FORMATS)}"
        )
    return chosen


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-ready rows: NaN / NA as null, numpy scalars as Python numbers."""
    rows = json.loads(frame.to_json(orient="records", double_precision=15, date_format="iso"))
    return [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
        for r in rows
    ]


def export_trial(
    data_dir: Path,
    out: Path,
    *,
    design: str = "auto",
    arm_column: str = "arm",
    endpoint: str = "accuracy",
    date_from: str | dt.date | None = None,
    date_to: str | dt.date | None = None,
    formats: Sequence[str] = FORMATS,
    alpha: float = 0.05,
) -> list[Path]:
    """Write the trial statistics export of the published snapshot in ``data_dir`` to ``out``.

    Returns
    -------
    list of Path
        The files written: ``trial.xlsx``, ``trial_<table>.csv`` per table, ``trial.json``
        (those of the chosen formats).

    Raises
    ------
    InputError
        Bad arguments, or a design the reads cannot support (the message says what is missing).
    """
    chosen = _formats(formats)
    start, end = _date(date_from, "--from"), _date(date_to, "--to")
    con = open_snapshot(Path(data_dir))
    try:
        with disk_read_only():  # the data dir is read, never written
            result = trial_tables(
                con,
                design=design,
                arm_column=arm_column,
                endpoint=endpoint,
                date_from=start,
                date_to=end,
                alpha=alpha,
            )
        info = snapshot_info(con)
    finally:
        con.close()
    parameters = {
        "design": design,
        "arm_column": arm_column,
        "endpoint": endpoint,
        "from": start,
        "to": end,
        "formats": ",".join(chosen),
        "alpha": alpha,
    }
    provenance = pd.DataFrame(
        provenance_rows(
            snapshot_id=info.snapshot_id if info else "not a published snapshot",
            snapshot_hash=sha256_file(snapshot_path(Path(data_dir))),
            published_at=info.published_at if info else "",
            parameters=parameters,
        ),
        columns=["item", "value"],
    )
    methods = methods_paragraph(result.design, endpoint, alpha)
    cited = references(result.design.design)
    methods_table = pd.DataFrame({"text": [methods, "References:", *cited]})
    tables = {**result.tables, "methods": methods_table, "provenance": provenance}

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "xlsx" in chosen:
        written.append(write_workbook(out / f"{STEM}.xlsx", tables))
    if "csv" in chosen:
        for name, frame in tables.items():
            path = out / f"{STEM}_{name}.csv"
            frame.to_csv(path, index=False)
            written.append(path)
    if "json" in chosen:
        path = out / f"{STEM}.json"
        document = {
            "design": {
                "analysed": result.design.design,
                "requested": result.design.requested,
                "reason": result.design.reason,
                "arms": list(result.design.arms),
            },
            "methods": methods,
            "references": cited,
            "provenance": dict(zip(provenance["item"], provenance["value"], strict=True)),
            "tables": {name: _records(frame) for name, frame in result.tables.items()},
        }
        path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written
