-- Sufficient statistics for metrics.summarize() when a grouping has few groups: one row per
-- group and distinct score, with the confusion counts and the pending count of the predictions
-- at that score. Summed over the scores they are the group's counts; their running sums along
-- the scores give DeLong's placement values exactly (ties included), see
-- metrics/_score_counts.py. A hash aggregation into (group, score) cells runs on every core,
-- where sorting one list per group would sort a few very long lists.
-- Template: {cases} is metrics/sql/cases.sql (or cases_flat.sql), {labels} and {keys} the group
-- columns, all filled in from the allow-list in metrics/_filters.py; values are $parameters.
with
{cases}
select
    {labels},
    score,
    count(*)                                                 as n,
    count(*) filter (where ref_label is null)                as pending,
    count(*) filter (where predicted and ref_label = 1)      as tp,
    count(*) filter (where predicted and ref_label = 0)      as fp,
    count(*) filter (where not predicted and ref_label = 1)  as fn,
    count(*) filter (where not predicted and ref_label = 0)  as tn
from cases
group by {keys}, score
order by {keys}, score
