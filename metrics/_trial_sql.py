"""SQL for the trial statistics export: the trial's cases, their flow and the per-arm counts.

Every query starts from the same import CTEs (:func:`trial_ctes`):

- ``reads``: the reads table with ``arm`` taken from the chosen arm column (the ``arm`` column, or
  a column the reads file carried beyond the contract, kept in ``extra``). It shadows the table so
  that ``radqa/sql/reference_standard.sql`` sees the same arms;
- ``ref``: the reference standard (clinical reads, ``arm = ''``);
- ``trial_reads``: reads made in a trial arm, inside the date window;
- ``case_status``: one row per *case* (study x finding) read in an arm, with its STARD flow status;
- ``analysed_reads``: the arm reads of analysed cases, with the reference label and the study's
  site, scanner, modality, sex and age band.

A case is eligible when it was read in a trial arm and its study date (the read date where the
study is unknown) is in the window. Only group-by names from :data:`DIMENSIONS` and the fixed
arm expressions become SQL text; every value (dates, the arm column's name, arm values) is a
``$parameter``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb
import pandas as pd

from metrics._filters import sql_text
from radqa.derived import AGE_BAND_SQL as _AGE_BAND_SQL
from radqa.errors import InputError
from radqa.store import reference_standard_sql

#: Reference results that are a tie of independent reads with no adjudication or consensus read.
INDETERMINATE_SOURCE = "majority tie: primary read"

#: Subgroup name -> column of ``analysed_reads`` (2x2 tables and estimates per level).
DIMENSIONS: dict[str, str] = {
    "overall": "'all'",
    "site": "site",
    "scanner": "scanner",
    "modality": "modality",
    "finding": "finding",
    "patient_sex": "patient_sex",
    "age_band": "age_band",
}

#: Cluster variable name -> column of ``analysed_reads`` (cluster-adjusted comparisons).
CLUSTERS: dict[str, str] = {"site": "site", "reader": "reader_pid"}

_ARM_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,63}$")
ALL_CASES = "(all cases)"


@dataclass(frozen=True)
class TrialScope:
    """Which reads form the trial: the arm column and the study-date window (inclusive days)."""

    arm_column: str = "arm"
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def __post_init__(self) -> None:
        if not _ARM_COLUMN.match(self.arm_column or ""):
            raise InputError(
                f"arm column {self.arm_column!r} is not a column name; expected letters, digits "
                "and underscores such as 'arm' or 'trial_group'"
            )
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InputError(
                f"--from ({self.date_from}) is after --to ({self.date_to}); expected from <= to"
            )


def trial_ctes(scope: TrialScope) -> tuple[str, dict[str, object]]:
    """The import CTEs shared by every trial query (without a leading ``with``) and params."""
    params: dict[str, object] = {}
    if scope.arm_column == "arm":
        arm = "r.arm"
    else:
        arm = "coalesce(nullif(trim(json_extract_string(r.extra, $arm_path)), ''), r.arm)"
        params["arm_path"] = '$."' + scope.arm_column + '"'
    when = "coalesce(s.study_datetime, r.read_datetime)"
    window = ""
    if scope.date_from is not None:
        window += f"\n          and {when} >= $date_from"
        params["date_from"] = scope.date_from
    if scope.date_to is not None:
        window += f"\n          and {when} < $date_to_excl"
        params["date_to_excl"] = scope.date_to + dt.timedelta(days=1)
    ctes = f"""
reads as (
    select r.* exclude (arm), {arm} as arm from reads as r
),
ref as (
{reference_standard_sql()}
),
trial_reads as (
    select r.study_uid, r.finding, r.arm, r.reader_pid, r.label, r.rating, r.ai_assisted,
           r.read_datetime
    from reads as r
    left join studies as s on s.study_uid = r.study_uid
    where r.arm <> ''{window}
),
case_status as (
    select c.study_uid, c.finding, ref.ref_label, ref.ref_source,
           case when p.study_uid is null then 'no prediction'
                when ref.ref_label is null then 'no reference read'
                when ref.ref_source = '{INDETERMINATE_SOURCE}' then 'indeterminate reference'
                else 'analysed' end as status
    from (select distinct study_uid, finding from trial_reads) as c
    left join (select distinct study_uid, finding from predictions) as p
           on p.study_uid = c.study_uid and p.finding = c.finding
    left join ref on ref.study_uid = c.study_uid and ref.finding = c.finding
),
analysed_reads as (
    select t.*, cs.ref_label,
           coalesce(s.site, 'unknown') as site,
           coalesce(s.modality, 'unknown') as modality,
           coalesce(s.scanner_manufacturer, 'unknown') || ' / '
               || coalesce(s.scanner_model, 'unknown') as scanner,
           coalesce(s.patient_sex, 'unknown') as patient_sex,
           coalesce({_AGE_BAND_SQL}, 'unknown') as age_band,
           t.study_uid || '|' || t.finding as case_key
    from trial_reads as t
    join case_status as cs on cs.study_uid = t.study_uid and cs.finding = t.finding
    left join studies as s on s.study_uid = t.study_uid
    where cs.status = 'analysed'
)"""
    return ctes.strip(), params


def query(
    con: duckdb.DuckDBPyConnection, scope: TrialScope, body: str, **values: object
) -> pd.DataFrame:
    """Run ``with <trial CTEs>, <body>`` (body: more CTEs and / or the final select)."""
    ctes, params = trial_ctes(scope)
    sep = "\n" if body.lstrip().startswith("select") else ",\n"
    sql = f"with {ctes}{sep}{body.strip()}"
    used = {k: v for k, v in {**params, **values}.items() if f"${k}" in sql}
    return con.execute(sql, used).df()


def check_arm_column(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> None:
    """InputError when a custom arm column is in no read's extra columns."""
    if scope.arm_column == "arm":
        return
    found = con.execute(
        "select count(*) from reads where json_extract_string(extra, $p) is not null",
        {"p": '$."' + scope.arm_column + '"'},
    ).fetchall()[0][0]
    if found == 0:
        keys = con.execute(
            "select distinct unnest(json_keys(extra)) as k from reads where extra is not null "
            "order by k limit 20"
        ).fetchall()
        names = ", ".join(["arm", *(k[0] for k in keys)])
        raise InputError(
            f"no read has a value in arm column {scope.arm_column!r}; the reads have these "
            f"columns that could hold an arm: {names}"
        )


# --------------------------------------------------------------------- design facts
DESIGN_FACTS = """
per_cell as (
    select arm, reader_pid, case_key, count(*) as n, count(rating) as rated
    from analysed_reads group by all
),
arms as (select arm, count(distinct case_key) as cases from per_cell group by arm),
case_arms as (select case_key, count(distinct arm) as n_arms from per_cell group by case_key),
reader_arms as (
    select reader_pid, case_key, count(distinct arm) as n_arms from per_cell group by all
)
select
    (select list(arm order by arm) from arms)                               as arms,
    (select count(*) from arms)                                             as n_arms,
    (select count(distinct reader_pid) from per_cell)                       as n_readers,
    (select count(distinct case_key) from per_cell)                         as n_cases,
    (select count(*) from per_cell)                                         as n_cells,
    (select sum(n) from per_cell)                                           as n_reads,
    (select sum(rated) from per_cell)                                       as n_rated,
    (select max(n) from per_cell)                                           as max_reads_per_cell,
    (select count(*) from case_arms where n_arms = (select count(*) from arms))
                                                                            as cases_in_all_arms,
    (select count(*) from reader_arms where n_arms = (select count(*) from arms))
                                                                            as reader_cases_in_all_arms
"""


def design_facts(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> dict[str, object]:
    """Counts that decide the design: arms, readers, cases, crossing, ratings."""
    row = query(con, scope, DESIGN_FACTS).iloc[0].to_dict()
    row["arms"] = [str(a) for a in (row["arms"] if row["arms"] is not None else [])]
    return {k: (v if k == "arms" else int(v) if pd.notna(v) else 0) for k, v in row.items()}


# --------------------------------------------------------------------- flow (STARD)
FLOW = """
flow_rows as (
    select distinct t.study_uid, t.finding, t.arm, cs.status,
           coalesce(s.site, 'unknown') as site
    from trial_reads as t
    join case_status as cs on cs.study_uid = t.study_uid and cs.finding = t.finding
    left join studies as s on s.study_uid = t.study_uid
)
select
    case when grouping(arm) = 1 then $all else arm end as arm,
    case when grouping(site) = 1 then $all else site end as site,
    count(distinct study_uid || '|' || finding)                                  as eligible,
    count(distinct study_uid || '|' || finding) filter (where status = 'no prediction')
        as excluded_no_prediction,
    count(distinct study_uid || '|' || finding) filter (where status = 'no reference read')
        as excluded_no_reference_read,
    count(distinct study_uid || '|' || finding) filter (where status = 'indeterminate reference')
        as excluded_indeterminate_reference,
    count(distinct study_uid || '|' || finding) filter (where status = 'analysed') as analysed,
    count(distinct study_uid)                                                    as eligible_studies,
    count(distinct study_uid) filter (where status = 'analysed')                 as analysed_studies
from flow_rows
group by grouping sets ((), (arm), (site), (arm, site))
order by grouping(arm) desc, grouping(site) desc, arm, site
"""


def flow(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> pd.DataFrame:
    """STARD flow counts of cases (and studies) overall, per arm, per site, per arm x site."""
    return query(con, scope, FLOW, all=ALL_CASES)


# --------------------------------------------------------------------- baseline
BASELINE = """
study_arm as (
    select distinct a.arm, a.study_uid, a.site from analysed_reads as a
),
per_study as (
    select sa.*, s.patient_age, coalesce(s.patient_sex, 'unknown') as patient_sex,
           coalesce(s.modality, 'unknown') as modality,
           coalesce(s.scanner_manufacturer, 'unknown') as scanner_manufacturer,
           coalesce(s.scanner_model, 'unknown') as scanner_model
    from study_arm as sa left join studies as s on s.study_uid = sa.study_uid
),
groups as (
    select 'arm' as group_by, arm as "group", * exclude (arm, site) from per_study
    union all
    select distinct on (study_uid) 'site', site, * exclude (arm, site) from per_study
),
sizes as (select group_by, "group", count(*) as n_studies from groups group by all),
age as (
    select group_by, "group", 'age (years)' as characteristic, stat as category,
           value, null::bigint as n
    from (
        select group_by, "group",
               avg(patient_age) as mean, stddev_samp(patient_age) as sd,
               quantile_cont(patient_age, 0.5) as median,
               quantile_cont(patient_age, 0.25) as q1, quantile_cont(patient_age, 0.75) as q3,
               min(patient_age) as min, max(patient_age) as max,
               count(*) - count(patient_age) as missing
        from groups group by all
    ) unpivot (value for stat in (mean, sd, median, q1, q3, min, max, missing))
),
categorical as (
    select group_by, "group", characteristic, category, null::double as value, count(*) as n
    from (
        select group_by, "group", 'sex' as characteristic, patient_sex as category from groups
        union all select group_by, "group", 'modality', modality from groups
        union all select group_by, "group", 'scanner manufacturer', scanner_manufacturer
            from groups
        union all select group_by, "group", 'scanner model',
            scanner_manufacturer || ' / ' || scanner_model from groups
    ) group by all
),
case_groups as (
    select distinct 'arm' as group_by, arm as "group", case_key, finding, ref_label
    from analysed_reads
    union all
    select distinct 'site', site, case_key, finding, ref_label from analysed_reads
),
prevalence as (
    select group_by, "group", 'prevalence (reference positive)' as characteristic,
           finding as category, avg(ref_label)::double as value,
           sum(ref_label)::bigint as n
    from case_groups group by all
)
select b.group_by, b."group", b.characteristic, b.category, b.n,
       coalesce(b.value, b.n / z.n_studies) as value, z.n_studies
from (select * from age union all select * from categorical union all select * from prevalence) b
join sizes as z using (group_by, "group")
order by b.group_by, b."group", b.characteristic, b.category
"""


def baseline(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> pd.DataFrame:
    """Baseline characteristics of the analysed studies per arm and per site (long format).

    ``value`` is the statistic for age (mean, sd, median, quartiles, min, max, missing) and the
    share of studies for categories; for prevalence it is the share of analysed cases of that
    finding whose reference is positive, with ``n`` the positive cases.
    """
    return query(con, scope, BASELINE)


# --------------------------------------------------------------------- index test
INDEX_TEST = """
select p.model_name, p.model_version, p.finding, p.threshold, p.threshold_source,
       p.threshold_source in ('file', 'configured') as prespecified,
       count(*) as predictions
from predictions as p
join (select distinct study_uid, finding from analysed_reads) as c
  on c.study_uid = p.study_uid and c.finding = p.finding
group by all
order by all
"""


def index_test(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> pd.DataFrame:
    """Models, versions and operating thresholds applied to the analysed cases."""
    return query(con, scope, INDEX_TEST)


# --------------------------------------------------------------------- reference standard
REFERENCE = """
cases as (
    select cs.study_uid, cs.finding, cs.ref_source, ref.n_readers, ref.first_read_at,
           s.study_datetime
    from case_status as cs
    join ref on ref.study_uid = cs.study_uid and ref.finding = cs.finding
    left join studies as s on s.study_uid = cs.study_uid
    where cs.status = 'analysed'
),
clinical as (
    select r.ai_assisted from reads as r
    join cases as c on c.study_uid = r.study_uid and c.finding = r.finding
    where r.arm = ''
),
hours as (
    select date_diff('second', study_datetime, first_read_at) / 3600.0 as h
    from cases where study_datetime is not null
)
select
    (select count(*) from cases)                                            as cases,
    (select avg(n_readers) from cases)                                      as readers_mean,
    (select min(n_readers) from cases)                                      as readers_min,
    (select max(n_readers) from cases)                                      as readers_max,
    (select count(*) from cases where ref_source = 'adjudication')          as adjudicated,
    (select count(*) from cases where ref_source = 'consensus')             as consensus,
    (select count(*) from cases where ref_source = 'majority')              as majority,
    (select count(*) from cases where ref_source = 'single read')           as single_read,
    (select count(*) from clinical)                                         as reference_reads,
    (select count(*) from clinical where ai_assisted)                       as reads_ai_visible,
    (select count(ai_assisted) from clinical)                               as reads_ai_known,
    (select count(*) from hours)                                            as hours_n,
    (select quantile_cont(h, 0.5) from hours)                               as hours_median,
    (select quantile_cont(h, 0.25) from hours)                              as hours_q1,
    (select quantile_cont(h, 0.75) from hours)                              as hours_q3,
    (select count(*) from hours where h < 0)                                as read_before_ai
"""


def reference_facts(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> dict[str, float]:
    """Counts describing the reference standard of the analysed cases."""
    row = query(con, scope, REFERENCE).iloc[0]
    return {k: (float(v) if pd.notna(v) else float("nan")) for k, v in row.items()}


# --------------------------------------------------------------------- 2x2 counts + AUC
def _by_score(
    con: duckdb.DuckDBPyConnection, scope: TrialScope, cases: str, keys: str, **values: object
) -> pd.DataFrame:
    """Sufficient statistics per group and distinct score (``metrics/sql/summary_by_score.sql``):
    reference positives / negatives and the confusion counts (the 2x2 is their sum per group;
    the AUC needs the per-score split)."""
    select = sql_text("summary_by_score").format(labels=keys, keys=keys)
    body = f"{cases}\n{select}"
    return query(con, scope, body, **values)


def reader_counts(
    con: duckdb.DuckDBPyConnection, scope: TrialScope, dimension: str, *, use_ratings: bool
) -> pd.DataFrame:
    """Reads against the reference per arm, level of ``dimension`` and score (see _by_score).

    Each read is one observation (a case read by three readers counts three times). The score
    for the AUC is the read's rating, or its 0/1 label when the trial has no ratings.
    """
    score = "rating" if use_ratings else "label::double"
    cases = f"""cases as (
    select arm, {DIMENSIONS[dimension]} as level, {score} as score, label = 1 as predicted,
           ref_label
    from analysed_reads
)"""
    return _by_score(con, scope, cases, "arm, level")


def _qualified(dimension: str, alias: str) -> str:
    expr = DIMENSIONS[dimension]
    return expr if expr.startswith("'") else f"{alias}.{expr}"


def ai_counts(con: duckdb.DuckDBPyConnection, scope: TrialScope, dimension: str) -> pd.DataFrame:
    """The AI's predictions on the analysed cases per arm (and all cases), model and level."""
    cols = "study_uid, finding, ref_label, site, scanner, modality, patient_sex, age_band"
    cases = f"""ai_cases as (
    select distinct arm, {cols} from analysed_reads
    union all
    select distinct $all as arm, {cols} from analysed_reads
),
cases as (
    select c.arm, p.model_name || ' ' || p.model_version as model,
           {_qualified(dimension, "c")} as level, p.score, p.predicted, c.ref_label
    from ai_cases as c
    join predictions as p on p.study_uid = c.study_uid and p.finding = c.finding
)"""
    return _by_score(con, scope, cases, "arm, model, level", all=ALL_CASES)


# --------------------------------------------------------------------- comparisons
def cluster_counts(
    con: duckdb.DuckDBPyConnection, scope: TrialScope, cluster: str, arms: list[str]
) -> pd.DataFrame:
    """Reads per cluster, arm, reference label and read label (for the GEE)."""
    body = f"""
select {CLUSTERS[cluster]} as cluster, arm, ref_label, label, count(*) as n
from analysed_reads
where arm in (select unnest($arms))
group by all
order by all
"""
    return query(con, scope, body, arms=arms)


def paired_units(
    con: duckdb.DuckDBPyConnection,
    scope: TrialScope,
    first: str,
    second: str,
    *,
    by_reader: bool,
    use_ratings: bool,
) -> pd.DataFrame:
    """One row per pairing unit read in both arms: reference, label and score in each arm.

    The unit is the case (study x finding) read by the same reader in both arms when
    ``by_reader``, else the case; several reads of a unit in one arm: the earliest counts.
    """
    reader = "reader_pid" if by_reader else "''"
    score = "rating" if use_ratings else "label::double"
    body = f"""
units as (
    select study_uid, finding, {reader} as unit_reader, arm, any_value(ref_label) as ref_label,
           arg_min(label, read_datetime) as label, arg_min({score}, read_datetime) as score
    from analysed_reads
    where arm in ($first, $second)
    group by all
)
select a.ref_label, a.label as label_first, b.label as label_second,
       a.score as score_first, b.score as score_second
from units as a
join units as b
  on b.study_uid = a.study_uid and b.finding = a.finding and b.unit_reader = a.unit_reader
where a.arm = $first and b.arm = $second
order by a.study_uid, a.finding, a.unit_reader
"""
    return query(con, scope, body, first=first, second=second)


def mrmc_frame(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> pd.DataFrame:
    """Long treatment x reader x case reads for :func:`metrics.mrmc` (no raw identifiers).

    One row per arm, reader and case: the earliest read's rating and 0/1 label (the same read
    for both), the reference label as ``truth`` and the case's level of every dimension of
    :data:`DIMENSIONS` (a column named after the dimension).
    """
    levels = ", ".join(f'any_value({expr}) as "{name}"' for name, expr in DIMENSIONS.items())
    body = f"""
first_read as (
    select * from analysed_reads
    qualify row_number() over (
        partition by arm, reader_pid, case_key order by read_datetime, rating, label
    ) = 1
)
select arm as treatment, reader_pid as reader, case_key as "case", ref_label as truth,
       any_value(rating) as rating, any_value(label) as label, {levels}
from first_read
group by arm, reader_pid, case_key, ref_label
order by treatment, reader, "case"
"""
    return query(con, scope, body)


# --------------------------------------------------------------------- agreement
def rater_counts(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> pd.DataFrame:
    """Per arm and case: readers labelling absent / present (Fleiss kappa, Gwet AC1 input)."""
    body = """
select arm, case_key, count(*) filter (where label = 0) as absent,
       count(*) filter (where label = 1) as present
from (select arm, case_key, reader_pid, arg_min(label, read_datetime) as label
      from analysed_reads group by all)
group by all
order by all
"""
    return query(con, scope, body)


def reader_pair_tables(con: duckdb.DuckDBPyConnection, scope: TrialScope) -> pd.DataFrame:
    """Per arm and pair of readers: the 2x2 of their labels on the cases both read."""
    body = """
per_reader as (
    select arm, case_key, reader_pid, arg_min(label, read_datetime) as label
    from analysed_reads group by all
)
select a.arm, a.reader_pid as reader_a, b.reader_pid as reader_b,
       count(*) filter (where a.label = 1 and b.label = 1) as both_present,
       count(*) filter (where a.label = 1 and b.label = 0) as a_only,
       count(*) filter (where a.label = 0 and b.label = 1) as b_only,
       count(*) filter (where a.label = 0 and b.label = 0) as both_absent
from per_reader as a
join per_reader as b on b.arm = a.arm and b.case_key = a.case_key and b.reader_pid > a.reader_pid
group by all
order by all
"""
    return query(con, scope, body)
