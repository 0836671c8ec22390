"""``radqa export trial``: trial statistics for STARD 2015 / CLAIM / CONSORT-AI as XLSX, CSV, JSON.

All numbers come from :func:`metrics.trial_tables`; this module only adds the provenance and the
methods paragraph and writes the files: one workbook with a sheet per table, a CSV per table and
one JSON document with everything.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
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
        (those of the chosen formats). They land whole or not at all (:func:`land`), and
        replace every file of an earlier export in ``out`` (``trial.xlsx``, ``trial.json``,
        ``trial_*.csv``): files this export does not write are removed, so the folder never
        mixes two analyses.

    Raises
    ------
    InputError
        Bad arguments, or a design the reads cannot support (the message says what is missing).
    OSError
        A file could not be written (its ``filename`` is the file's final path); the files
        under ``out`` are as they were.
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

    files: dict[str, Callable[[Path], object]] = {}
    if "xlsx" in chosen:
        files[f"{STEM}.xlsx"] = partial(write_workbook, tables=tables)
    if "csv" in chosen:
        for name, frame in tables.items():
            files[f"{STEM}_{name}.csv"] = partial(frame.to_csv, index=False)
    if "json" in chosen:
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
        text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
        files[f"{STEM}.json"] = lambda path: path.write_text(text)
    written = land(Path(out), files)
    # the folder holds one export: an earlier one's files this one does not write (another
    # design's MRMC tables, a format not asked for now) would read as part of it
    earlier = [
        *Path(out).glob(f"{STEM}_*.csv"),
        Path(out) / f"{STEM}.xlsx",
        Path(out) / f"{STEM}.json",
    ]
    for path in earlier:
        if path.is_file() and path not in written:
            path.unlink()
    return written


# The temporary folder of an export in progress, inside the output folder: .radqa-trial.<pid>.*
_STAGING = ".radqa-trial."


def land(out: Path, files: dict[str, Callable[[Path], object]]) -> list[Path]:
    """Write ``files`` (name -> function writing that file at the path it is given) into ``out``
    whole or not at all, and return their final paths.

    Each file is first written into a temporary folder inside ``out`` (so on the same file
    system, even when ``out`` is a mount point), then all are moved into place with
    ``os.replace``. A failure while writing (a full disk, say) leaves every file under its final
    name as it was, a previous export's included, and removes the temporary folder; the
    OSError then names the file that could not be written (a write error's own names none).
    Temporary folders of exports that were killed (their process is gone) are removed first.
    """
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING}{os.getpid()}.", dir=out))
    try:
        for name, write in files.items():
            try:
                write(staging / name)
            except Exception as exc:
                # xlsxwriter wraps the OSError of a full disk in its FileCreateError
                cause = (
                    exc
                    if isinstance(exc, OSError)
                    else next((a for a in exc.args if isinstance(a, OSError)), None)
                )
                if cause is None:
                    raise
                raise OSError(cause.errno, cause.strerror or str(cause), str(out / name)) from exc
        for name in files:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in files]


def _remove_stale(out: Path) -> None:
    """Remove the temporary folders that exports killed before they finished left in ``out``."""
    for folder in out.glob(f"{_STAGING}*"):
        pid = folder.name.removeprefix(_STAGING).partition(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True
