"""The per-snapshot cases table: predictions joined once to their study and reference standard.

Every grouped statistic (summaries, label completeness, drift tables) reads the predictions with
their study's dimensions and the reference label. Joining 10 million predictions to the studies
and to the reference standard costs 2-3 s per query on a 2-core machine; reading one flat table
costs a fraction of that. So after a snapshot is published, :func:`build_cases` writes that join
once to ``radqa-cases.duckdb`` beside it, stamped with the snapshot id, and
:func:`attach_cases` attaches it (read-only, as ``radqa_cases``) to a reader's connection when
its stamp matches the reader's snapshot. The metrics layer uses it when attached and falls back
to the join otherwise, with the same results (tested), so a missing or stale file only costs
time. It holds no identifier: no study uid, no patient pseudonym (a prediction is referred to
by its row number in the snapshot, ``prediction_row``).

The file is built into a temporary name and moved into place with an atomic rename, like the
snapshot; a reader that attached the previous file keeps reading it (its open file survives the
rename) until it reopens the snapshot.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path

import duckdb

from radqa import store
from radqa.errors import StoreError, first_line

CASES_NAME = "radqa-cases.duckdb"
#: The layout of the file; a file of another layout is not attached (the next ingest rebuilds it).
CASES_VERSION = 4
#: The catalog name a reader's connection sees the cases file under.
CASES_CATALOG = "radqa_cases"

#: The patient age band of a study (alias ``s``): the group column ``age_band`` of the metrics.
AGE_BAND_SQL = (
    "case when s.patient_age is null then null"
    " when s.patient_age < 18 then '0-17'"
    " when s.patient_age < 40 then '18-39'"
    " when s.patient_age < 65 then '40-64'"
    " when s.patient_age < 80 then '65-79'"
    " else '80+' end"
)

#: The cases table: one row per prediction. Names are the group names of metrics._filters.
_COLUMNS = f"""
select
    s.site, s.scanner_manufacturer, s.scanner_model, s.scanner_software, s.modality,
    s.body_part, s.patient_sex, {AGE_BAND_SQL} as age_band, s.study_datetime,
    f.finding, f.model_name, f.model_version, f.score, f.predicted, f.threshold,
    r.ref_label, r.any_ai_assisted as ai_assisted,
    f.rowid as prediction_row  -- the prediction's row in this snapshot (which never changes)
"""
#: The cases of a few sites ($sites), in the order the table is stored in (see build_cases).
_SITES = f"""
{_COLUMNS}
from snap.predictions as f
join (select * from snap.studies where list_contains($sites, site)) as s
    on s.study_uid = f.study_uid
left join (
    select * from snap.reference_standard
    where study_uid in (select study_uid from snap.studies where list_contains($sites, site))
) as r on r.study_uid = f.study_uid and r.finding = f.finding
order by s.site, f.model_name, f.finding, s.study_datetime
"""
#: About this many predictions per statement of the build (see build_cases).
CHUNK_ROWS = 2_000_000
#: The predictions of no site: their study is unknown or has no site (last, where NULLs sort).
_NO_SITE = f"""
insert into cases {_COLUMNS}
from (
    select rowid, * from snap.predictions as p
    where not exists (
        select 1 from snap.studies as x where x.site is not null and x.study_uid = p.study_uid
    )
) as f
left join snap.studies as s on s.study_uid = f.study_uid
left join snap.reference_standard as r on r.study_uid = f.study_uid and r.finding = f.finding
order by f.model_name, f.finding, s.study_datetime
"""


#: Beside the stamp, the sizes a query planner needs: rows, distinct scores and distinct values
#: of every group column and period (counted on the small table of cells), see :func:`cases_stats`;
#: and the study x finding pairs of the predictions with and without a reference standard, which
#: the data-health page shows (a distinct over every prediction, too slow for a page view).
_GROUPS = (
    "site", "scanner_manufacturer", "scanner_model", "scanner_software", "modality", "body_part",
    "patient_sex", "age_band", "finding", "model_name", "model_version", "ai_assisted",
)  # fmt: skip
#: The columns of the table of cells: every group column but the trial arm, and the periods.
CELL_COLUMNS = (*_GROUPS, "month", "quarter", "week")
#: The predictions counted per combination of group columns and period: small (thousands of
#: rows where the cases are millions), for estimating the size of a grouped query's result.
_CELLS = f"""
create table cells as
select {", ".join(_GROUPS)},
    date_trunc('month', study_datetime) as month,
    date_trunc('quarter', study_datetime) as quarter,
    date_trunc('week', study_datetime) as week,
    count(*) as n
from cases
group by all
"""
_INFO = f"""
create table cases_info as
with pairs as (  -- study x finding pairs of the predictions, and their reference standard
    select r.ref_label
    from (select distinct study_uid, finding from snap.predictions) as p
    left join snap.reference_standard as r on r.study_uid = p.study_uid and r.finding = p.finding
)

select ?::varchar as snapshot_id, {CASES_VERSION} as version, sum(n)::bigint as rows,
    (select count(distinct score) from cases) as score_values,
    (select count(*) from pairs) as pairs,
    (select count(ref_label) from pairs) as labelled_pairs,
    {", ".join(f"count(distinct {g}) + 1 as n_{g}" for g in _GROUPS)},
    count(distinct month) + 1 as n_month,
    count(distinct quarter) + 1 as n_quarter,
    count(distinct week) + 1 as n_week
from cells
"""


def cases_stats(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Sizes of the attached cases table: ``rows``, ``score_values`` and ``n_<column>`` (distinct
    values + 1 for a missing one) per group column and per period (month, quarter, week)."""
    cur = con.execute(f"select * exclude (snapshot_id, version) from {CASES_CATALOG}.cases_info")
    names = [d[0] for d in cur.description or ()]
    row = cur.fetchall()[0]
    return {k: int(v) for k, v in zip(names, row, strict=True)}


def cases_path(data_dir: Path) -> Path:
    return Path(data_dir) / CASES_NAME


def build_cases(data_dir: Path, writer: duckdb.DuckDBPyConnection | None = None) -> Path | None:
    """Write the cases table of the published snapshot of ``data_dir``; None without a snapshot.

    Run by the single writer (ingest, demo, publish) after publishing, so two builds never race.
    ``writer``, the writer's open connection, lends its memory to the build
    (:func:`radqa.store.memory_lent`).
    """
    data_dir = Path(data_dir)
    snap = store.snapshot_path(data_dir)
    if not snap.exists():
        return None
    final = cases_path(data_dir)
    tmp = data_dir / f".{CASES_NAME}.{os.getpid()}.tmp"
    store.clear_copies(data_dir, CASES_NAME)
    try:
        with store.memory_lent(writer) if writer is not None else nullcontext():
            _write_cases(snap, tmp)
        os.replace(tmp, final)
    except BaseException:
        store.clear_copies(data_dir, CASES_NAME)
        raise
    return final


def finish_writes(
    con: duckdb.DuckDBPyConnection, data_dir: Path, published: str | None, *, cases: bool = True
) -> tuple[str | None, list[str]]:
    """What every writer command does last, while it holds the writer's lock: when it published
    nothing (``published`` None), publish if the snapshot lacks what the working database holds
    (:func:`radqa.store.publish_if_behind`: an earlier run stopped between its commit and its
    publish); then, unless ``cases`` is False, build the cases file when a snapshot was
    published or the one there is not stamped with it (:func:`cases_current`).

    Returns the snapshot id now published (``published``, or the catch-up's) and the sentences
    the command's summary adds (the catch-up, a cases build that failed)."""
    notes = []
    if published is None and (info := store.publish_if_behind(con, data_dir)):
        published = info.snapshot_id
        notes.append(store.CAUGHT_UP)
    if cases and (published or not cases_current(data_dir)):
        notes += [failed] if (failed := build_cases_or_say(data_dir, con)) else []
    return published, notes


def build_cases_or_say(data_dir: Path, writer: duckdb.DuckDBPyConnection) -> str:
    """:func:`build_cases` for a writer that has committed and published: '' when built, else
    what went wrong (a full disk, memory) in a sentence for its summary. The cases file only
    saves time (readers join at query time without it), so its failure must not hide that the
    batch landed; the next ingest or publish builds it (:func:`cases_current`)."""
    try:
        build_cases(data_dir, writer=writer)
    except (duckdb.Error, OSError) as exc:
        return (
            f"the cases table could not be built ({first_line(exc)}): "
            "the data are published and statistics join at query time, more slowly, until the "
            "next ingest or `radqa publish` builds it"
        )
    return ""


def cases_current(data_dir: Path) -> bool:
    """Whether the cases file is there and stamped with the published snapshot's id (True when
    there is no snapshot: nothing to build). A writer killed between publishing and building it
    leaves the old one, which readers then ignore (slower joins)."""
    if not store.snapshot_path(Path(data_dir)).is_file():
        return True
    try:
        con = store.open_snapshot(Path(data_dir))
    except (StoreError, duckdb.Error):
        return True  # an unreadable or older snapshot: publish's business, not the cases'
    try:
        return has_cases(con)
    finally:
        con.close()


def _write_cases(snap: Path, tmp: Path) -> None:
    """The cases file of snapshot ``snap``, written to ``tmp``."""
    con = duckdb.connect(str(tmp), config={"memory_limit": store.writer_memory()})
    try:
        con.execute("set enable_progress_bar = false")
        con.execute("set preserve_insertion_order = false")
        quoted = str(snap).replace("'", "''")
        con.execute(f"attach '{quoted}' as snap (read_only)")
        sid = con.execute("select snapshot_id from snap.snapshot_info").fetchall()[0][0]
        con.execute(f"create table cases as {_SITES} limit 0", {"sites": []})
        # A few sites at a time, about CHUNK_ROWS predictions: each join's build side and each
        # sort then fit in memory. In one statement, 29M predictions ran out of the 1 GB limit,
        # and the whole build at 10M took 25 s (in runs of 2M: 19.6 s, of which the inserts
        # 13.9 s; in runs of 6M: 24.6 s). The table ends up in (site, model, finding, study
        # time) order, which lets a filtered query skip other sites' row groups by their min/max
        # statistics.
        for sites in site_chunks(con):
            con.execute(f"insert into cases {_SITES}", {"sites": sites})
        [(placed, total)] = con.execute(
            "select (select count(*) from cases), (select count(*) from snap.predictions)"
        ).fetchall()
        if placed < total:
            con.execute(_NO_SITE)
        con.execute(_CELLS)
        con.execute(_INFO, [sid])
        con.execute("detach snap")
        con.execute("checkpoint")
    finally:
        con.close()


def site_chunks(con: duckdb.DuckDBPyConnection) -> list[list[str]]:
    """The sites of the attached snapshot in order, in runs of about :data:`CHUNK_ROWS`
    predictions each (sized by their share of the studies: a count per site of the predictions
    would cost the join the chunks are for)."""
    counts = con.execute(
        "select site, count(*) from snap.studies where site is not null group by site order by site"
    ).fetchall()
    [(predictions,)] = con.execute("select count(*) from snap.predictions").fetchall()
    studies = sum(n for _, n in counts)
    per_chunk = studies * CHUNK_ROWS / max(predictions, 1)
    chunks: list[list[str]] = []
    size = 0
    for site, n in counts:
        if not chunks or (size + n > per_chunk and size > 0):
            chunks.append([])
            size = 0
        chunks[-1].append(site)
        size += n
    return chunks


def version(data_dir: Path) -> tuple[int, int]:
    """Modification times (ns) of the snapshot and of the cases file (0 when absent).

    A reader that cached a connection reopens it when either changes.
    """
    times = []
    for path in (store.snapshot_path(data_dir), cases_path(data_dir)):
        try:
            times.append(path.stat().st_mtime_ns)
        except FileNotFoundError:
            times.append(0)
    return times[0], times[1]


def attach_cases(con: duckdb.DuckDBPyConnection, data_dir: Path) -> bool:
    """Attach the cases file to ``con`` when it belongs to ``con``'s snapshot; True if attached."""
    path = cases_path(data_dir)
    if not path.exists():
        return False
    try:
        rows = con.execute("select snapshot_id from snapshot_info").fetchall()
    except duckdb.CatalogException:
        return False
    quoted = str(path).replace("'", "''")
    try:
        con.execute(f"attach '{quoted}' as {CASES_CATALOG} (read_only)")
    except duckdb.Error:
        return False  # unreadable or being replaced: the join path answers instead
    try:
        stamp = con.execute(f"select snapshot_id, version from {CASES_CATALOG}.cases_info")
        stamped = stamp.fetchall()
    except duckdb.Error:  # a file of an older layout
        stamped = []
    if not rows or not stamped or stamped[0] != (rows[0][0], CASES_VERSION):
        con.execute(f"detach {CASES_CATALOG}")
        return False
    return True


def has_cases(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the cases table of this snapshot is attached to ``con``."""
    rows = con.execute(
        "select count(*) from duckdb_databases() where database_name = ?", [CASES_CATALOG]
    ).fetchall()
    return bool(rows[0][0])
