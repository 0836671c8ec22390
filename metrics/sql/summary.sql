-- Sufficient statistics per group for metrics.summarize(): confusion counts, pending cases and
-- the empirical AUC with DeLong's placement-value variances, in one pass over the predictions.
-- Template: {cases} is metrics/sql/cases.sql and {keys} the group columns, both filled in by
-- metrics/_grouped.py from the allow-list in metrics/_filters.py; values are $parameters.
--
-- Placement values (DeLong 1988), per group with n_pos positives and n_neg negatives:
--   positive at score x: v10 = (#negatives below x + 0.5 #negatives at x) / n_neg
--   negative at score y: v01 = (#positives above y + 0.5 #positives at y) / n_pos
--   AUC = mean(v10) = mean(v01);  var = var_samp(v10) / n_pos + var_samp(v01) / n_neg.
-- Cases are first reduced to one row per (group, distinct score), so the windows run over
-- distinct scores only and tied scores share their counts.
with
{cases},

by_score as (
    select
        {keys},
        score,
        count(*) filter (where ref_label = 1)                  as pos,
        count(*) filter (where ref_label = 0)                  as neg,
        count(*) filter (where ref_label is null)              as pending,
        count(*) filter (where predicted and ref_label = 1)    as tp,
        count(*) filter (where predicted and ref_label = 0)    as fp,
        count(*) filter (where not predicted and ref_label = 1) as fn,
        count(*) filter (where not predicted and ref_label = 0) as tn
    from cases
    group by {keys}, score
),

placed as (
    select
        *,
        sum(pos) over grp as n_pos,
        sum(neg) over grp as n_neg,
        coalesce(sum(neg) over (grp order by score rows between unbounded preceding and 1 preceding), 0)
            as neg_below,
        coalesce(sum(pos) over (grp order by score rows between 1 following and unbounded following), 0)
            as pos_above
    from by_score
    window grp as (partition by {keys})
),

placement_values as (
    select
        *,
        (neg_below + 0.5 * neg) / nullif(n_neg, 0) as v10,
        (pos_above + 0.5 * pos) / nullif(n_pos, 0) as v01
    from placed
),

with_auc as (
    select
        *,
        fsum(pos * v10) over (partition by {keys}) / nullif(n_pos, 0) as auc
    from placement_values
)

select
    {keys},
    sum(pos + neg + pending)::bigint                                        as n,
    sum(pending)::bigint                                                    as pending,
    sum(tp)::bigint as tp,
    sum(fp)::bigint as fp,
    sum(fn)::bigint as fn,
    sum(tn)::bigint as tn,
    any_value(auc)                                                          as auc,
    fsum(pos * (v10 - auc) ^ 2) / nullif(any_value(n_pos) - 1, 0)           as s10,
    fsum(neg * (v01 - auc) ^ 2) / nullif(any_value(n_neg) - 1, 0)           as s01
from with_auc
group by {keys}
order by {keys}
