"""Grouped summary at scale: `metrics.summarize` beside one hand-written DuckDB query and pandas."""

from __future__ import annotations

from pathlib import Path

from bench._measure import Measurement, measure

BY = ("site", "scanner_model", "modality")

HAND_WRITTEN = """
with ref as ({ref}),
scored as (
    select s.site, s.scanner_model, s.modality,
           strftime(s.study_datetime, '%Y-%m') as period, p.score, p.predicted, r.ref_label
    from predictions p join studies s using (study_uid)
    left join ref r on r.study_uid = p.study_uid and r.finding = p.finding
),
ranked as (
    select *, rank() over (partition by site, scanner_model, modality, period order by score)
              + (count(*) over (partition by site, scanner_model, modality, period, score) - 1) / 2.0
              as rnk
    from scored where ref_label is not null
)
select site, scanner_model, modality, period,
       count(*) filter (where predicted and ref_label = 1) as tp,
       count(*) filter (where predicted and ref_label = 0) as fp,
       count(*) filter (where not predicted and ref_label = 1) as fn,
       count(*) filter (where not predicted and ref_label = 0) as tn,
       (sum(rnk) filter (where ref_label = 1)
        - count(*) filter (where ref_label = 1) * (count(*) filter (where ref_label = 1) + 1) / 2.0)
       / nullif(count(*) filter (where ref_label = 1) * count(*) filter (where ref_label = 0), 0)
       as auc
from ranked group by all
"""


def _setup(data_dir: Path) -> str:
    """Open the snapshot as the product does (read-only, with the readers' memory limit), with
    the statistical libraries already imported."""
    return (
        "import os\nos.environ['RADQA_RESULT_CACHE'] = '0'  # cold: no result of an earlier run\n"
        "from pathlib import Path\nimport metrics\nfrom radqa import derived, store\n"
        # SciPy and statsmodels load lazily; the dashboard's server loads them in the
        # background, so a timed statistic should not include their import (~0.5 s)
        "from metrics._lazy import load_deferred\nload_deferred()\n"
        f"con = store.open_snapshot(Path({str(data_dir)!r}))\n"
        "con.execute('set enable_progress_bar = false')\n"
        "assert derived.has_cases(con), 'the bench database has no cases table'\n"
    )


def run(data_dir: Path) -> list[str]:
    setup = _setup(data_dir)
    results: list[tuple[str, Measurement, str]] = []
    cold = measure(
        f"""
        df = metrics.summarize(con, by={BY!r}, period="month")
        _result = dict(groups=len(df), rows=int(df["n"].sum()))
        """,
        setup=setup,
    )
    results.append((f"summarize by site x scanner_model x modality x month "
                    f"({cold.extra['groups']:,} groups, {cold.extra['rows']:,} predictions), cold",
                    cold, "< 5 s, < 2 GB"))  # fmt: skip
    joined = measure(
        f"""
        df = metrics.summarize(con, by={BY!r}, period="month")
        _result = dict(groups=len(df))
        """,
        setup=setup + "con.execute(f'detach {derived.CASES_CATALOG}')\n",
    )
    results.append(("the same without the snapshot's cases table (joins at query time), cold",
                    joined, ""))  # fmt: skip
    cached = measure(
        f"""
        import time
        t = time.perf_counter()
        metrics.summarize(con, by={BY!r}, period="month")
        _result = dict(cached=time.perf_counter() - t)
        """,
        setup=setup + f"metrics.summarize(con, by={BY!r}, period='month')\n",
    )
    results.append(("the same, second call (cache, unchanged snapshot)",
                    _only(cached, "cached"), "< 0.1 s"))  # fmt: skip
    latest = measure(
        f"""
        df = metrics.summarize(con, by={BY!r}, period="month",
                               filters=metrics.Filters(date_from=last, date_to=last_end))
        _result = dict(groups=len(df))
        """,
        setup=setup
        + "import datetime as dt\n"
        + "last = con.execute(\"select date_trunc('month', max(study_datetime)) from studies\")"
        ".fetchall()[0][0].date()\n"
        + "last_end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)"
        " - dt.timedelta(days=1)\n",
    )
    results.append(("summarize, the latest month only", latest, "< 0.6 s"))
    hand = measure(
        """
        df = con.execute(HAND.format(ref="select * from reference_standard")).df()
        _result = dict(groups=len(df))
        """,
        setup=setup + f"HAND = {HAND_WRITTEN!r}\n",
    )
    results.append(("one hand-written DuckDB query (counts + rank-sum AUC, no CIs)", hand, ""))
    pandas = measure(
        """
        df = con.execute('''
            select s.site, s.scanner_model, s.modality,
                   strftime(s.study_datetime, '%Y-%m') as period, p.score, p.predicted,
                   r.ref_label
            from predictions p join studies s using (study_uid)
            join ({ref}) r on r.study_uid = p.study_uid and r.finding = p.finding
        '''.format(ref="select * from reference_standard")).df()
        keys = ["site", "scanner_model", "modality", "period"]
        df["tp"] = df.predicted & (df.ref_label == 1)
        df["fp"] = df.predicted & (df.ref_label == 0)
        df["rank"] = df.groupby(keys)["score"].rank()
        df["pos"] = df.ref_label == 1
        g = df.groupby(keys)
        counts = g[["tp", "fp", "pos"]].sum()
        n = g.size()
        rank_pos = df[df.pos].groupby(keys)["rank"].sum()
        npos = counts["pos"]
        auc = (rank_pos - npos * (npos + 1) / 2) / (npos * (n - npos))
        _result = dict(groups=len(counts))
        """,
        setup=setup,
    )
    results.append(("pandas (join fetched, groupby counts + rank AUC, no CIs)", pandas, ""))
    lines = [
        "## Grouped metrics (`metrics.summarize`)",
        "",
        "| what | seconds | peak MB | target |",
        "|---|---:|---:|---|",
    ]
    for what, m, target in results:
        lines.append(f"| {what} | {m.seconds:.3f} | {m.peak_mb:,.0f} | {target} |")
    return lines


def _only(m: Measurement, key: str) -> Measurement:
    """The timing of one inner step instead of the whole process."""
    return Measurement(float(m.extra[key]), m.peak_mb, m.extra)  # type: ignore[arg-type]
