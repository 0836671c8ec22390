-- Import CTEs shared by the grouped queries: the reference standard and one row per prediction
-- with its group columns. Template: {reference_label}, {group_select}, {arm_join} and {where}
-- are filled in by metrics/_grouped.py from the allow-list in metrics/_filters.py; every value
-- is a $parameter. A prediction without a reference row is pending (ref_label null).
ref as (
{reference_label}
),

cases as (
    select
        {group_select},
        f.score,
        f.predicted,
        ref.ref_label
    from predictions as f
    left join studies as s on s.study_uid = f.study_uid
    left join ref on ref.study_uid = f.study_uid and ref.finding = f.finding
    {arm_join}
    {where}
)
