"""The per-snapshot cases table (radqa.derived): built after publishing, attached only to its
own snapshot, and every grouped statistic is the same with it as with the join it replaces."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import metrics
from metrics import Filters, _cache
from metrics._monitor import load_drift_tables
from metrics._periods import months_in_data
from radqa import derived, store
from radqa.demo import run_demo


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths must really compute: no result from an earlier computation on disk."""
    monkeypatch.setenv("RADQA_RESULT_CACHE", "0")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cases")
    run_demo(path, studies=3000, seed=3)
    return path


def _both(demo: Path, fn):
    """fn(con) with the cases table attached, then with the join (cache cleared between)."""
    _cache.RESULTS.clear()
    con = store.open_snapshot(demo)
    try:
        assert derived.has_cases(con)
        flat = fn(con)
        con.execute(f"detach {derived.CASES_CATALOG}")
        assert not derived.has_cases(con)
        _cache.RESULTS.clear()
        joined = fn(con)
    finally:
        con.close()
        _cache.RESULTS.clear()
    return flat, joined


def test_cases_file_has_one_row_per_prediction_and_no_identifier(demo):
    con = duckdb.connect(str(derived.cases_path(demo)), read_only=True)
    columns = [r[0] for r in con.execute("describe cases").fetchall()]
    rows = con.execute("select count(*) from cases").fetchall()[0][0]
    con.close()
    snap = store.open_snapshot(demo)
    predictions = snap.execute("select count(*) from predictions").fetchall()[0][0]
    snap.close()
    assert rows == predictions > 5000
    assert not {"study_uid", "patient_pid", "patient_id", "reader_pid"} & set(columns)
    assert {"site", "age_band", "ai_assisted", "ref_label", "score"} <= set(columns)


def test_cases_are_stored_in_filter_order(demo):
    """Sorted by site, model, finding and time, so a filtered query skips the row groups of
    other sites, models and months by their min/max statistics instead of reading them."""
    con = duckdb.connect(str(derived.cases_path(demo)), read_only=True)
    changes = con.execute(
        """
        select count(*) filter (where site is distinct from lag_site),
               count(distinct site), count(*) filter (where key < lag_key)
        from (
            select site, lag(site) over w as lag_site,
                   (site, model_name, finding, study_datetime) as key, lag(key) over w as lag_key
            from cases window w as (order by rowid)
        )
        """
    ).fetchall()[0]
    con.close()
    site_changes, sites, out_of_order = changes
    assert sites == 5
    assert site_changes == sites  # the first row counts as a change: one run per site
    assert out_of_order == 0


FILTERS = Filters(site=("Kobe Community Hospital",), date_from=dt.date(2026, 3, 15))


@pytest.mark.parametrize(
    ("by", "period", "filters"),
    [
        (("site", "scanner_model", "modality"), "month", None),
        (("finding", "model_name", "age_band", "ai_assisted"), "week", None),
        (("patient_sex", "body_part", "scanner_software"), "quarter", FILTERS),
        ((), None, Filters(finding=("pneumothorax",), date_to=dt.date(2026, 6, 30))),
        (("arm",), None, None),  # needs the reads: always the join
    ],
)
def test_summary_and_completeness_equal_the_join(demo, by, period, filters):
    flat, joined = _both(
        demo, lambda con: metrics.summarize(con, by=by, period=period, filters=filters, min_n=5)
    )
    assert len(flat) > 0
    pd.testing.assert_frame_equal(flat, joined)
    flat, joined = _both(
        demo,
        lambda con: metrics.label_completeness(con, by=by, period=period, filters=filters),
    )
    pd.testing.assert_frame_equal(flat, joined)


def test_drift_tables_and_model_versions_equal_the_join(demo):
    def drift(con):
        preds, studies = load_drift_tables(con, first_month="2025-11", last_month="2026-10")
        return [
            df.sort_values([c for c in df.columns if c not in ("n", "n_pos", "n_neg")]).reset_index(
                drop=True
            )
            for df in (preds, studies)
        ]

    flat, joined = _both(demo, drift)
    assert flat[0]["n"].sum() > 3000
    for a, b in zip(flat, joined, strict=True):
        pd.testing.assert_frame_equal(a, b)
    flat, joined = _both(demo, lambda con: metrics.model_versions(con))
    pd.testing.assert_frame_equal(flat, joined)
    for kind, limit in (("both", 500), ("fn", 7), ("fp", 1), ("both", 100_000)):
        flat, joined = _both(
            demo,
            lambda con, k=kind, n=limit: metrics.discordant_cases(con, kind=k, limit=n),
        )
        assert 0 < len(flat) <= limit
        pd.testing.assert_frame_equal(flat, joined)
    flat, joined = _both(
        demo, lambda con: metrics.discordant_cases(con, filters=FILTERS, kind="fn", limit=5)
    )
    assert len(flat) == 5 and set(flat["site"]) == {"Kobe Community Hospital"}
    pd.testing.assert_frame_equal(flat, joined)
    flat, joined = _both(demo, lambda con: metrics.overview_counts(con))
    assert flat == joined and flat["labelled"] > 0 and flat["pending"] > 0
    flat, joined = _both(
        demo, lambda con: [months_in_data(con), months_in_data(con, model_version="2.1")]
    )
    assert flat == joined and len(flat[0]) == 24 and 0 < len(flat[1]) < 24


def test_cases_of_another_snapshot_are_not_attached(demo, tmp_path):
    import shutil

    shutil.copy(store.snapshot_path(demo), store.snapshot_path(tmp_path))
    shutil.copy(derived.cases_path(demo), derived.cases_path(tmp_path))
    con = duckdb.connect(str(derived.cases_path(tmp_path)))
    con.execute("update cases_info set version = version - 1")  # an older layout
    con.close()
    snap = store.open_snapshot(tmp_path)
    assert not derived.has_cases(snap)
    snap.close()
    con = duckdb.connect(str(derived.cases_path(tmp_path)))
    con.execute("update cases_info set version = version + 1, snapshot_id = 'an-older-snapshot'")
    con.close()
    snap = store.open_snapshot(tmp_path)
    try:
        assert not derived.has_cases(snap)
        total = metrics.summarize(snap, by=())["n"].iloc[0]
        assert total == snap.execute("select count(*) from predictions").fetchall()[0][0]
    finally:
        snap.close()
        _cache.RESULTS.clear()


def test_ingest_rebuilds_the_cases_after_publishing(demo, tmp_path):
    import shutil

    from ingest.load import ingest_files

    for name in ("radqa-work.duckdb", "pseudo.key"):
        shutil.copy(demo / name, tmp_path / name)
    before = derived.version(demo)
    extra = tmp_path / "more.csv"
    extra.write_text(
        "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score\n"
        "NEW-1,P-1,New Site,2026-10-03T10:00:00,CR,pneumothorax,ChestXR-Triage,2.1,0.91\n"
    )
    [result] = ingest_files(tmp_path, "predictions", [extra])
    assert result.ok and result.snapshot_id
    con = store.open_snapshot(tmp_path)
    try:
        assert derived.has_cases(con)
        sites = con.execute(
            f"select count(*) from {derived.CASES_CATALOG}.cases where site = 'New Site'"
        ).fetchall()
        assert sites[0][0] == 1
    finally:
        con.close()
    assert derived.version(tmp_path)[1] > 0 and before[1] > 0


@pytest.mark.parametrize(
    ("by", "period", "filters"),
    [
        (("model_name", "finding"), None, None),
        (("site", "scanner_model", "modality"), "month", None),
        (("age_band", "ai_assisted"), "week", FILTERS),  # NULL group values
        ((), None, None),
        (("site",), None, Filters(site=("no such site",))),  # no rows
    ],
)
def test_counts_per_score_equal_sorted_lists(demo, monkeypatch, by, period, filters):
    from metrics import _grouped

    def run(choice: bool) -> pd.DataFrame:
        monkeypatch.setattr(_grouped, "few_groups", lambda *args: choice)
        _cache.RESULTS.clear()
        con = store.open_snapshot(demo)
        try:
            return metrics.summarize(con, by=by, period=period, filters=filters, min_n=5)
        finally:
            con.close()
            _cache.RESULTS.clear()

    by_score, lists = run(True), run(False)
    pd.testing.assert_frame_equal(by_score, lists, check_exact=False, rtol=1e-12, atol=1e-15)
    if filters is None:
        assert by_score["auc"].notna().any() and by_score["n"].sum() > 8000


def test_few_groups_follows_the_recorded_sizes(demo):
    from metrics._score_counts import few_groups

    con = store.open_snapshot(demo)
    try:
        stats = derived.cases_stats(con)
        assert stats["rows"] == con.execute("select count(*) from predictions").fetchall()[0][0]
        scores = con.execute("select count(distinct score) from predictions").fetchall()[0][0]
        assert stats["score_values"] == scores
        frame = con.execute(
            f"select c.*, date_trunc('week', c.study_datetime) as week "
            f"from {derived.CASES_CATALOG}.cases as c"
        ).df()

        def expected(keys: list[str], site: str | None = None) -> bool:
            part = frame if site is None else frame[frame["site"] == site]
            sizes = part.groupby(keys, dropna=False).size() if keys else [len(part)]
            return sum(min(int(n), scores) for n in sizes) <= len(part) / 2

        assert few_groups(con, (), None) is expected([])
        assert few_groups(con, ("site", "scanner_model", "modality"), "week") is expected(
            ["site", "scanner_model", "modality", "week"]
        )
        kobe = Filters(site=("Kobe Community Hospital",))
        assert few_groups(con, ("finding",), None, kobe) is expected(
            ["finding"], "Kobe Community Hospital"
        )
        assert not few_groups(con, ("arm",), None)  # not in the cases table
    finally:
        con.close()


@pytest.mark.parametrize("chunk_rows", [derived.CHUNK_ROWS, 3000])
def test_cases_equal_the_join_with_studies_missing_or_without_a_site(
    demo, tmp_path, monkeypatch, chunk_rows
):
    """Built a few sites at a time, the table still holds every prediction once with the values
    of the join, in filter order: also a prediction whose study is missing or has no site
    (those come last)."""
    import shutil

    from radqa.derived import AGE_BAND_SQL

    monkeypatch.setattr(derived, "CHUNK_ROWS", chunk_rows)

    for name in ("radqa-work.duckdb", "pseudo.key"):
        shutil.copy(demo / name, tmp_path / name)
    con = store.connect_working(tmp_path)
    uids = [
        r[0] for r in con.execute("select study_uid from studies order by 1 limit 4").fetchall()
    ]
    con.execute("delete from studies where study_uid in (?, ?)", uids[:2])
    con.execute("update studies set site = null where study_uid in (?, ?)", uids[2:])
    store.publish_snapshot(con, tmp_path)
    con.close()
    derived.build_cases(tmp_path)
    snap = store.open_snapshot(tmp_path)
    try:
        assert derived.has_cases(snap)
        mem = duckdb.connect()
        mem.execute(f"attach '{store.snapshot_path(tmp_path)}' as snap (read_only)")
        chunks = derived.site_chunks(mem)
        mem.close()
        sites = snap.execute(
            "select distinct site from studies where site is not null order by site"
        ).fetchall()
        assert [s for c in chunks for s in c] == [r[0] for r in sites]
        if chunk_rows > 100_000:
            assert len(chunks) == 1
        else:  # about 3,000 predictions per chunk, of the demo's ~9,000
            assert len(chunks) >= 3
        join = f"""
            select s.site, s.scanner_model, s.modality, {AGE_BAND_SQL} as age_band,
                   s.study_datetime, f.finding, f.model_name, f.score, r.ref_label,
                   f.rowid as prediction_row
            from predictions f
            left join studies s on s.study_uid = f.study_uid
            left join reference_standard r on r.study_uid = f.study_uid and r.finding = f.finding
        """
        flat = f"""
            select site, scanner_model, modality, age_band, study_datetime, finding, model_name,
                   score, ref_label, prediction_row
            from {derived.CASES_CATALOG}.cases
        """
        [(n_flat, n_join, differ)] = snap.execute(
            f"""
            select (select count(*) from ({flat})), (select count(*) from ({join})),
                   (select count(*) from (({flat}) except all ({join})))
                   + (select count(*) from (({join}) except all ({flat})))
            """
        ).fetchall()
        assert n_flat == n_join > 5000 and differ == 0
        [(no_site, last_sited, first_unsited)] = snap.execute(
            f"""
            select count(*) filter (where site is null),
                   max(rowid) filter (where site is not null),
                   min(rowid) filter (where site is null)
            from {derived.CASES_CATALOG}.cases
            """
        ).fetchall()
        expected = snap.execute(
            "select count(*) from predictions where study_uid in (?, ?, ?, ?)", uids
        ).fetchall()[0][0]
        assert no_site == expected > 0
        assert first_unsited > last_sited  # the rows without a site come last
        [(out_of_order,)] = snap.execute(
            f"""
            select count(*) filter (where key < lag_key) from (
                select (site, model_name, finding, study_datetime) as key, lag(key) over w as lag_key
                from {derived.CASES_CATALOG}.cases where site is not null
                window w as (order by rowid)
            )
            """
        ).fetchall()
        assert out_of_order == 0
    finally:
        snap.close()
        _cache.RESULTS.clear()


def test_the_writer_lends_its_memory_while_the_cases_are_built(demo, tmp_path, monkeypatch):
    """Ingest keeps its writer open while a second connection builds the cases table: during that
    build the writer's buffer pool is cut to 64 MB, and its limit comes back afterwards, also
    when the build fails."""
    import shutil

    for name in ("radqa-work.duckdb", "radqa.duckdb"):
        shutil.copy(demo / name, tmp_path / name)
    con = store.connect_working(tmp_path)

    def limit() -> str:
        return con.execute("select current_setting('memory_limit')").fetchall()[0][0]

    before, seen = limit(), []
    write = derived._write_cases

    def spy(snap: Path, tmp: Path) -> None:
        seen.append(limit())
        write(snap, tmp)

    monkeypatch.setattr(derived, "_write_cases", spy)
    assert derived.build_cases(tmp_path, writer=con) == derived.cases_path(tmp_path)
    assert seen == ["61.0 MiB"]  # 64 MB during the build
    assert limit() == before != "61.0 MiB"

    def fail(snap: Path, tmp: Path) -> None:
        raise RuntimeError("the build failed")

    monkeypatch.setattr(derived, "_write_cases", fail)
    with pytest.raises(RuntimeError):
        derived.build_cases(tmp_path, writer=con)
    assert limit() == before
    con.close()
