-- The "cases" CTE of metrics/sql/cases.sql read from the per-snapshot cases table (radqa/derived.py:
-- predictions already joined to their study and reference standard), one row per prediction.
-- Same output columns as cases.sql; a prediction without a reference row is pending (ref_label
-- null). Template: {table}, {group_select} and {where} are filled in by metrics/_filters.py from
-- its allow-list (alias c); every value is a $parameter.
cases as (
    select
        {group_select},
        c.score,
        c.predicted,
        c.ref_label
    from {table} as c
    {where}
)
