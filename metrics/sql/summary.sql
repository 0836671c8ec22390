-- Sufficient statistics per group for metrics.summarize(), in one pass over the predictions:
-- the confusion counts, the pending count, and the scores of the reference-positive and of the
-- reference-negative predictions (as two lists per group). The AUC and DeLong's placement
-- values (DeLong 1988) are computed from those lists in metrics/_grouped.py with a few numpy
-- array operations over all groups at once (no loop over groups). DuckDB's window functions
-- were slower for this on the 10-million-row benchmark (4-9 s for the running sums alone).
-- Template: {cases} is metrics/sql/cases.sql, {labels} and {keys} the group columns, all filled
-- in by metrics/_grouped.py from the allow-list in metrics/_filters.py; values are $parameters.
with
{cases}
select
    {labels},
    count(*)                                                 as n,
    count(*) filter (where ref_label is null)                as pending,
    count(*) filter (where predicted and ref_label = 1)      as tp,
    count(*) filter (where predicted and ref_label = 0)      as fp,
    count(*) filter (where not predicted and ref_label = 1)  as fn,
    count(*) filter (where not predicted and ref_label = 0)  as tn,
    list(score order by score) filter (where ref_label = 1)  as pos_scores,
    list(score order by score) filter (where ref_label = 0)  as neg_scores
from cases
group by {keys}
order by {keys}
