-- Sufficient statistics per group and distinct score over a "cases" CTE (columns score,
-- predicted, ref_label and the group columns): the reference positives and negatives and the
-- confusion counts of the cases at that score, and the pending ones. Summed over the scores they
-- are the group's counts; their running sums along the scores give DeLong's placement values
-- exactly, ties included (metrics/_score_counts.py). Used by metrics.summarize when a grouping
-- has few large groups (a parallel hash aggregation into (group, score) cells, where sorting one
-- list per group would sort a few very long lists) and by the trial export (metrics/_trial_sql.py).
-- Template: the caller puts its "cases" CTE before this select; {labels} and {keys} are the group
-- columns from an allow-list; values are $parameters.
select
    {labels},
    score,
    count(*)                                                 as n,
    count(*) filter (where ref_label is null)                as pending,
    count(*) filter (where ref_label = 1)                    as pos,
    count(*) filter (where ref_label = 0)                    as neg,
    count(*) filter (where predicted and ref_label = 1)      as tp,
    count(*) filter (where predicted and ref_label = 0)      as fp,
    count(*) filter (where not predicted and ref_label = 1)  as fn,
    count(*) filter (where not predicted and ref_label = 0)  as tn
from cases
group by {keys}, score
order by {keys}, score
