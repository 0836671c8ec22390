"""Realistic, deterministic demo data for RadQA, and loading it through the hospital's ingest path.

``generate_demo`` writes, for each of ``months`` calendar months ending with ``end_month``, one
Parquet file of AI predictions (``predictions-YYYY-MM.parquet``) and one CSV of radiologist reads
made in that month (``reads-YYYY-MM.csv``; reads arrive days after the study, so the last weeks
are mostly pending; a month in which no read was made, in a small demo, has no reads file), the reads of a fully crossed reader study (``reads-reader-study.csv``) and
``effects.json``, which lists the effects planted after the reference window (the first months):
a site whose model gets worse, a scanner software upgrade, a new scanner model and a prevalence
change. Sites, scanners, findings, models and effects come from a :class:`DemoConfig`.

Generation is vectorised with numpy, one month at a time, so 10 million studies fit in memory.
The same arguments give byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from radqa import store
from radqa._demo_config import (
    DemoConfig,
    Effect,
    NewScanner,
    PerformanceShift,
    PrevalenceChange,
    SoftwareUpgrade,
    default_config,
)
from radqa._demo_expected import before_after, model_version_switches
from radqa._demo_gen import Month, draw_month, make_patients
from radqa._demo_plan import EXAM_TYPES, Plan, compile_plan, month_range
from radqa._demo_reader_study import reader_study_table, select_cases
from radqa._demo_store import (
    StoreContents,
    building_demo,
    is_built_demo,
    refusal,
    remove_store,
    store_contents,
)
from radqa._demo_write import predictions_table, reads_table, write_csv, write_parquet
from radqa.errors import InputError, StoreError
from radqa.settings import SETTINGS_FILE

__all__ = ["DemoConfig", "DemoFiles", "default_config", "generate_demo", "run_demo"]

READER_STUDY_FILE = "reads-reader-study.csv"
DEMO_MONTHS = 24
EFFECTS_FILE = "effects.json"


@dataclass(frozen=True)
class DemoFiles:
    """The files ``generate_demo`` wrote; ``reads`` ends with the reader-study file.

    A demo too small to have a read in some month, or a case for the reader study, has no file
    for it (``reader_study`` is then None): a file with a header and no rows is refused by ingest.
    """

    predictions: tuple[Path, ...]
    reads: tuple[Path, ...]
    reader_study: Path | None
    effects: Path


def generate_demo(
    out_dir: Path,
    *,
    studies: int = 200_000,
    seed: int = 7,
    end_month: str = "2026-10",
    months: int = DEMO_MONTHS,
    config: DemoConfig | None = None,
) -> DemoFiles:
    """Write the demo input files into ``out_dir`` and return their paths.

    Parameters
    ----------
    out_dir
        Directory to write into (created if absent). Earlier demo files there are replaced.
    studies
        Total number of studies, spread evenly over the months.
    seed
        Seed of every random draw; the same arguments give byte-identical files.
    end_month, months
        The last month ("YYYY-MM") and the number of months; the data are cut off at the end of
        ``end_month``, so reads that would come later are absent (pending).
    config
        Sites, scanners, findings, models and planted effects; :func:`default_config` if None.
    """
    _check_whole("--seed", seed, low=0)
    _check_whole("--studies", studies, low=months)
    cfg = config or default_config()
    month_list = month_range(end_month, months)
    if months <= cfg.reference_months:
        raise InputError(
            f"months={months}; expected more months than the reference window "
            f"({cfg.reference_months}) so that effects can start after it"
        )
    plan = compile_plan(cfg, seed=seed, studies=studies, months=month_list)
    patients = make_patients(plan)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("predictions-*.parquet"), *out.glob("reads-*.csv")]:
        stale.unlink()

    pending: dict[int, list[dict[str, np.ndarray]]] = {}
    candidates: list[dict[str, np.ndarray]] = []
    pred_files, read_files = [], []
    for m, month in enumerate(month_list):
        mo = draw_month(plan, patients, m)
        path = out / f"predictions-{month}.parquet"
        write_parquet(predictions_table(plan, patients, m, mo), path)
        pred_files.append(path)
        _buffer_reads(plan, m, mo, pending)
        if m < cfg.reference_months:
            candidates.append(_reader_study_candidates(plan, m, mo))
        del mo
        chunks = pending.pop(m, [])
        reads = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}
        if not reads or not reads["time"].size:
            continue  # no read made this month (a small demo): no file, as no site sends one
        order = np.argsort(reads["time"], kind="stable")
        path = out / f"reads-{month}.csv"
        write_csv(reads_table(plan, {k: v[order] for k, v in reads.items()}), path)
        read_files.append(path)

    pool = {k: np.concatenate([c[k] for c in candidates]) for k in candidates[0]}
    chosen = select_cases(plan, pool["truth"])
    rs_path: Path | None = None  # None: a demo too small to hold a reader-study case
    (out / READER_STUDY_FILE).unlink(missing_ok=True)
    if chosen.size:
        rs_path = out / READER_STUDY_FILE
        write_csv(reader_study_table(plan, {k: v[chosen] for k, v in pool.items()}), rs_path)
    effects_path = out / EFFECTS_FILE
    effects_path.write_text(json.dumps(effects_document(plan), indent=2) + "\n")
    reads_all = (*read_files, rs_path) if rs_path is not None else tuple(read_files)
    return DemoFiles(tuple(pred_files), reads_all, rs_path, effects_path)


def _check_whole(option: str, value: object, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        need = f", at least one per month ({low})" if option == "--studies" else f" >= {low}"
        raise InputError(f"{option} is {value!r}; expected a whole number{need}")


def _buffer_reads(
    plan: Plan, m: int, mo: Month, pending: dict[int, list[dict[str, np.ndarray]]]
) -> None:
    """File this month's reads under the month they were made in (this one or later)."""
    r = mo.reads
    study = mo.row_study[r["row"]]
    read_month = np.searchsorted(plan.month_start.astype(np.int64), r["time"], side="right") - 1
    rows = {
        "site": mo.site[study],
        "month": np.full(study.size, m),
        "serial": mo.serial[study],
        "finding": mo.row_finding[r["row"]],
        "reader": r["reader"],
        "label": r["label"],
        "time": r["time"],
        "role": r["role"],
        "ai": r["ai"],
    }
    for k in np.unique(read_month):  # at most a few months
        sel = read_month == k
        pending.setdefault(int(k), []).append({key: v[sel] for key, v in rows.items()})


def _reader_study_candidates(plan: Plan, m: int, mo: Month) -> dict[str, np.ndarray]:
    rs = plan.config.reader_study
    names = np.array([f.name for f in plan.config.findings])
    exam_modality = np.array([e[0] for e in EXAM_TYPES])
    st = mo.row_study
    sel = (names[mo.row_finding] == rs.finding) & (exam_modality[mo.exam[st]] == rs.modality)
    return {
        "site": mo.site[st[sel]],
        "month": np.full(int(sel.sum()), m),
        "serial": mo.serial[st[sel]],
        "truth": mo.row_truth[sel],
    }


def _effect_entry(plan: Plan, e: Effect) -> dict[str, Any]:
    """One effect of effects.json: what, where, from when, which metrics show it, how big."""
    findings = plan.config.findings
    model_of = {f: plan.config.models[plan.model_index[j]].name for j, f in enumerate(findings)}
    if isinstance(e, PerformanceShift | SoftwareUpgrade):
        if isinstance(e, PerformanceShift):
            group = {"site": e.site} | ({"finding": e.finding} if e.finding else {})
            params: dict[str, Any] = {
                "sensitivity_drop": e.sensitivity_drop,
                "specificity_drop": e.specificity_drop,
            }
            metrics = ["sensitivity", "specificity"]
            mods = {s.modality for s in plan.scanners if s.site == e.site}
            hit = [j for j, f in enumerate(findings) if e.finding in (None, f.name)]
            hit = [j for j in hit if set(findings[j].modalities) & mods]
            drops = (e.sensitivity_drop, e.specificity_drop)
        else:
            group = {"site": e.site, "scanner_model": e.scanner_model}
            group["scanner_software"] = e.new_software
            old = {s.software for s in plan.scanners if s.model == e.scanner_model}
            params = {"specificity_drop": e.specificity_drop, "old_software": sorted(old)}
            metrics = ["score_distribution", "positive_rate", "specificity"]
            mods = {s.modality for s in plan.scanners if s.model == e.scanner_model}
            hit = [j for j, f in enumerate(findings) if set(f.modalities) & mods]
            drops = (0.0, e.specificity_drop)
        expected, vs_reference = {}, {}
        for j in hit:
            before, after = plan.dists[j], plan.dists[j].with_drops(*drops)
            key = f"{model_of[findings[j]]}/{findings[j].name}"
            expected[key] = {
                "sensitivity": [round(before.sensitivity, 4), round(after.sensitivity, 4)],
                "specificity": [round(before.specificity, 4), round(after.specificity, 4)],
            }
            vs_reference[key] = before_after(plan, e.site, j, after, plan.starts[e.id])
        params["expected_before_after"] = expected
        params["expected_before_after_vs_reference"] = vs_reference
    elif isinstance(e, NewScanner):
        s = e.scanner
        group = {"site": s.site, "scanner_model": s.model}
        params = {
            "share_of_modality_volume": e.share,
            "station": s.station,
            "manufacturer": s.manufacturer,
            "modality": s.modality,
            "scanner_software": s.software,
        }
        metrics = ["scanner_model"]
    else:
        assert isinstance(e, PrevalenceChange)
        group = {"site": e.site, "finding": e.finding}
        prev = {f"{model_of[f]}/{f.name}": f.prevalence for f in findings if f.name == e.finding}
        hit = [j for j, f in enumerate(findings) if f.name == e.finding]
        params = {
            "factor": e.factor,
            "expected_before_after": {
                k: [v, round(float(e.applied(v)), 4)] for k, v in prev.items()
            },
            "expected_before_after_vs_reference": {
                f"{model_of[findings[j]]}/{findings[j].name}": before_after(
                    plan, e.site, j, plan.dists[j], plan.starts[e.id], prevalence=True
                )
                for j in hit
            },
        }
        metrics = ["prevalence"]
    return {
        "id": e.id,
        "kind": e.kind,
        "group": group,
        "start": plan.months[plan.starts[e.id]],
        "metrics": metrics,
        "description": e.description,
        "parameters": params,
    }


#: What the two kinds of expected figures in effects.json mean.
EXPECTED_VALUES = {
    "expected_before_after": (
        "against the hidden truth the demo drew: the model's planted sensitivity and "
        "specificity, and the true prevalence, in the reference window and after the effect; "
        "no data RadQA holds can show these"
    ),
    "expected_before_after_vs_reference": (
        "against the reference standard (the radiologists' reads: adjudication, else the "
        "majority of the double reads, else the primary read), which is what RadQA measures; "
        "from the demo's own reader sensitivity and specificity at that site, double-read and "
        "adjudication shares and score distributions (reader and model errors independent "
        "given the truth and the score). Readers' false positives on rare findings make the "
        "reference prevalence higher and the model's sensitivity lower than against the truth"
    ),
}


def effects_document(plan: Plan) -> dict[str, Any]:
    """The content of effects.json."""
    return {
        "seed": plan.seed,
        "studies": plan.studies,
        "months": plan.months,
        "reference_months": plan.months[: plan.config.reference_months],
        "expected_values": EXPECTED_VALUES,
        "effects": [_effect_entry(plan, e) for e in plan.config.effects],
        # no planted effect (the scores do not change), but the "new model version" alert
        # reports each one: a vendor's update that splits every figure in two
        "model_version_switches": model_version_switches(plan),
    }


#: The settings a demo data dir starts with: the vendor's published figures for the chest X-ray
#: model ("97.4% accuracy, radiologist agreement above 93%"), which the Overview and the monthly
#: report check against the local data.
DEMO_SETTINGS = """\
# Written by `radqa demo` (only when the data dir had no radqa.toml). Vendor claims are checked
# against the local data on the dashboard's Overview (the monthly report does not show them).
[claims."ChestXR-Triage"]
accuracy = 0.974
agreement = 0.93
"""


def run_demo(
    data_dir: Path, *, studies: int = 200_000, seed: int = 7, replace: bool = False
) -> bool:
    """Generate the demo into ``data_dir / "demo"`` and ingest it as a hospital would.

    ``studies`` must be at least one per month (24); ``seed`` a whole number >= 0. The demo is
    only loaded into a store without data. When the store already holds the same
    demo (same ``studies`` and ``seed``, every file loaded), nothing is done and False is
    returned; any other data is refused with a message saying what is there and how to start
    over. ``replace`` deletes the store first (:func:`radqa._demo_store.remove_store`: the
    databases, snapshot, cases file and result cache; pseudo.key and radqa.toml are kept).

    The demo holds the writer lock (the working database, open for writing) from before it
    deletes or looks at the store until its ingest has ended, so an ingest started meanwhile,
    while the files are generated too, is refused rather than mixed into the demo or deleted by
    ``replace``; a marker in the data dir (:func:`radqa._demo_store.building_demo`) lets that
    refusal say a demo (its PID) is building the store. Its own ingest opens the same database in
    the same process, which DuckDB shares (:func:`radqa.store.connect_working`).

    A data dir without settings gets :data:`DEMO_SETTINGS` (the vendor's claims); an existing
    ``radqa.toml`` is left as it is. Returns True when the demo was built.

    Raises
    ------
    InputError
        The store holds other data.
    StoreError
        Another process writes the store (an ingest), or it cannot be opened.
    """
    _check_whole("--seed", seed, low=0)  # before anything is written
    _check_whole("--studies", studies, low=DEMO_MONTHS)
    data_dir = Path(data_dir)
    if replace:
        with store.writer_lock(data_dir):
            remove_store(data_dir)
    elif not _may_load(data_dir, store_contents(data_dir), studies=studies, seed=seed):
        return False  # checked before the writer opens the store: a refusal changes nothing
    # Opened right after the deletion, which unlinks the locked file: an ingest that creates
    # the working file first (in those microseconds) holds the lock, and this refuses the demo.
    writer = store.connect_working(data_dir)
    try:
        # again under the lock: an ingest may have run since the check above
        if not _may_load(data_dir, store_contents(data_dir, writer), studies=studies, seed=seed):
            return False
        # removed before the lock goes: a writer refused meanwhile is told a demo is building
        with building_demo(data_dir, studies=studies):
            try:
                _build(data_dir, studies=studies, seed=seed)
            except BaseException as exc:  # the store was empty: leave it so, not half loaded
                removed = _remove_half_built(data_dir, writer)
                if isinstance(exc, InputError) and removed:
                    raise InputError(
                        f"{exc}; the partly loaded store was removed (the demo files stay in "
                        f"{data_dir / 'demo'})"
                    ) from exc
                raise
    finally:
        writer.close()
    return True


def _may_load(data_dir: Path, contents: StoreContents, *, studies: int, seed: int) -> bool:
    """True when the store holds no data; False, saying so, when it holds this very demo.

    Raises InputError when it holds other data."""
    if not contents.files:
        return True
    if is_built_demo(data_dir, contents, studies=studies, seed=seed):
        print(
            f"{data_dir} already holds the demo of {studies:,} studies with seed {seed}; "
            "nothing to do"
        )
        return False
    raise InputError(refusal(data_dir, contents, studies=studies, seed=seed))


def _remove_half_built(data_dir: Path, writer: duckdb.DuckDBPyConnection) -> list[Path]:
    """Remove the half-built store while ``writer`` still holds its lock.

    A checkpoint first: closing a connection whose write-ahead log holds changes, DuckDB
    checkpoints and deletes the ``.wal`` by its name, which by then may be that of another
    writer's new store. When the checkpoint fails (a full disk), the writer is closed and the
    store removed after, unless another process writes there by then (what is there is its)."""
    try:
        writer.execute("checkpoint")
    except duckdb.Error:
        writer.close()
        return _remove_unless_written(data_dir)
    return remove_store(data_dir)


def _remove_unless_written(data_dir: Path) -> list[Path]:
    """Remove the store, unless another process writes there now: then nothing is removed."""
    try:
        with store.writer_lock(data_dir):
            return remove_store(data_dir)
    except StoreError:
        return []


def _build(data_dir: Path, *, studies: int, seed: int) -> None:
    from ingest.load import ingest_files

    settings = data_dir / SETTINGS_FILE
    if not settings.exists():
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(DEMO_SETTINGS)

    files = generate_demo(data_dir / "demo", studies=studies, seed=seed)
    kinds: tuple[tuple[str, Sequence[Path]], ...] = (
        ("predictions", files.predictions),
        ("reads", files.reads),
    )
    for kind, paths in kinds:
        # the cases table once, after the reads
        results = ingest_files(data_dir, kind, paths, publish="end", cases=kind == "reads")
        bad = [r for r in results if not r.ok]
        if bad:
            raise InputError(
                f"the demo {kind} did not load cleanly: "
                + "; ".join(
                    f"{r.file}: {r.status}, {r.quarantined} rows quarantined "
                    f"({', '.join(r.reasons) or r.message})"
                    for r in bad
                )
                + "; expected every demo row to meet the input contract"
            )
