"""The allow-listed SQL builder: Filters, group columns, periods and the generated text."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from metrics import Filters
from metrics._filters import GROUP_COLUMNS, READ_GROUP_COLUMNS, check_by, where_clause
from metrics._grouped import summary_sql
from radqa.errors import InputError

# The part of the summary query that Python assembles (after the reference-standard CTE), for
# by=("site", "age_band"), period="month" and the filters below. Update it deliberately.
EXPECTED_SUMMARY_SQL = """\
cases as (
    select
        s.site as site,
        case when s.patient_age is null then null when s.patient_age < 18 then '0-17' when s.patient_age < 40 then '18-39' when s.patient_age < 65 then '40-64' when s.patient_age < 80 then '65-79' else '80+' end as age_band,
        date_trunc('month', s.study_datetime) as period,
        f.score,
        f.predicted,
        ref.ref_label
    from predictions as f
    left join studies as s on s.study_uid = f.study_uid
    left join ref on ref.study_uid = f.study_uid and ref.finding = f.finding
    where s.study_datetime >= $date_from
      and s.study_datetime < $date_to_excl
      and s.site in ($site_0, $site_1)
      and f.model_name in ($model_name_0)
)
select
    site, age_band, strftime(period, '%Y-%m') as period,
    count(*)                                                 as n,
    count(*) filter (where ref_label is null)                as pending,
    count(*) filter (where predicted and ref_label = 1)      as tp,
    count(*) filter (where predicted and ref_label = 0)      as fp,
    count(*) filter (where not predicted and ref_label = 1)  as fn,
    count(*) filter (where not predicted and ref_label = 0)  as tn,
    list(score order by score) filter (where ref_label = 1)  as pos_scores,
    list(score order by score) filter (where ref_label = 0)  as neg_scores
from cases
group by site, age_band, period
order by site, age_band, period"""

FILTERS = Filters(
    site=("A", "B"), date_from=date(2025, 1, 1), date_to=date(2025, 3, 31), model_name="m"
)


def test_generated_summary_sql_snapshot():
    sql, cases = summary_sql(("site", "age_band"), "month", FILTERS)
    head, sep, tail = sql.partition("\ncases as (")
    assert head == "with\nref as (\nselect * from reference_standard\n),"
    assert sep + tail == "\n" + EXPECTED_SUMMARY_SQL
    assert cases.params == {
        "date_from": date(2025, 1, 1),
        "date_to_excl": date(2025, 4, 1),  # date_to is inclusive: the whole last day counts
        "site_0": "A",
        "site_1": "B",
        "model_name_0": "m",
    }


def test_values_never_enter_the_sql_text():
    hostile = "x'); drop table predictions; --"
    where, params = where_clause(Filters(site=(hostile,), finding=("ich",)))
    assert hostile not in where
    assert where == "where s.site in ($site_0)\n      and f.finding in ($finding_0)"
    assert params == {"site_0": hostile, "finding_0": "ich"}


def test_reads_queries_leave_model_filters_out():
    where, params = where_clause(
        Filters(model_version=("2",), modality=("CT",)), model_columns=False
    )
    assert where == "where s.modality in ($modality_0)"
    assert params == {"modality_0": "CT"}
    assert "model_name" not in READ_GROUP_COLUMNS and "model_name" in GROUP_COLUMNS


def test_filters_normalise_values_and_are_hashable():
    f = Filters(site=["A"], scanner_model="Force", date_from=datetime(2025, 1, 2, 13, 0))
    assert (f.site, f.scanner_model, f.date_from) == (("A",), ("Force",), date(2025, 1, 2))
    assert hash(f) == hash(
        Filters(site=("A",), scanner_model=("Force",), date_from=date(2025, 1, 2))
    )
    assert f.active() == {
        "date_from": date(2025, 1, 2),
        "site": ("A",),
        "scanner_model": ("Force",),
    }
    assert where_clause(None) == ("", {}) and where_clause(Filters()) == ("", {})


def test_filter_errors_say_what_was_found():
    with pytest.raises(InputError) as err:
        Filters(date_from=date(2025, 5, 1), date_to=date(2025, 4, 1))
    assert str(err.value) == (
        "Filters.date_from (2025-05-01) is after date_to (2025-04-01); "
        "expected date_from <= date_to"
    )
    with pytest.raises(InputError, match=r"Filters.date_to must be a date; found '2025-04-01'"):
        Filters(date_to="2025-04-01")


def test_check_by_refuses_repeats_and_hints_at_period():
    with pytest.raises(InputError, match=r"group-by columns repeat: \['site', 'site'\]"):
        check_by(("site", "site"), GROUP_COLUMNS)
    with pytest.raises(InputError, match=r"use period='month'\|'quarter'\|'week' for periods"):
        check_by(("period",), GROUP_COLUMNS)
    assert check_by("site", GROUP_COLUMNS) == ("site",)
