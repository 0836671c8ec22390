-- Reference standard per study and finding (ARCHITECTURE.md, "Ground truth"):
-- adjudication read > consensus read > majority of independent reads (primary + second) > primary.
-- Only clinical reads count (arm = ''): reads made inside a trial arm or reader study are the
-- thing being measured, not the reference. Several adjudication (or consensus) reads: the latest.
-- A majority tie (e.g. one reader says present, one absent, nobody adjudicated) takes the primary
-- read's label (the earliest primary if several), else the earliest independent read.
-- Studies with no clinical read for a finding have no row here: they are *pending*.
with per_key as (
    select
        study_uid,
        finding,
        count(*)                                                             as n_reads,
        count(distinct reader_pid)                                           as n_readers,
        bool_or(coalesce(ai_assisted, false))                                as any_ai_assisted,
        min(read_datetime)                                                   as first_read_at,
        arg_max(label, read_datetime) filter (where read_role = 'adjudication') as adj_label,
        arg_max(label, read_datetime) filter (where read_role = 'consensus')    as cons_label,
        sum(label) filter (where read_role in ('primary', 'second'))         as indep_pos,
        count(*) filter (where read_role in ('primary', 'second'))           as indep_n,
        arg_min(label, read_datetime) filter (where read_role = 'primary')   as primary_label,
        arg_min(label, read_datetime) filter (where read_role in ('primary', 'second')) as first_label
    from reads
    where arm = ''
    group by study_uid, finding
)
select
    study_uid,
    finding,
    case
        when adj_label is not null then adj_label
        when cons_label is not null then cons_label
        when indep_pos * 2 > indep_n then 1
        when indep_pos * 2 < indep_n then 0
        else coalesce(primary_label, first_label)
    end::tinyint as ref_label,
    case
        when adj_label is not null then 'adjudication'
        when cons_label is not null then 'consensus'
        when indep_n = 1 then 'single read'
        when indep_pos * 2 <> indep_n then 'majority'
        else 'majority tie: primary read'
    end as ref_source,
    n_reads,
    n_readers,
    any_ai_assisted,
    first_read_at
from per_key
