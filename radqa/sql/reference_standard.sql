-- Reference standard per study and finding (ARCHITECTURE.md, "Ground truth"):
-- adjudication read > consensus read > majority of independent reads (primary + second) > primary.
-- Only clinical reads count (arm = ''): reads made inside a trial arm or reader study are the
-- thing being measured, not the reference. Several adjudication (or consensus) reads: the latest.
-- A majority tie (one reader says present, one absent, nobody adjudicated) takes the primary
-- read's label (the earliest primary if several), else the earliest independent read.
-- Studies with no clinical read for a finding have no row here: they are *pending*.
--
-- "Latest adjudication's label" is max(read time * 2 + label) with the label in the low bit: one
-- plain max instead of arg_max (cheaper at 10M reads), and two reads at the same instant resolve
-- to label 1 deterministically, so a report run twice gives the same labels.
-- n_readers counts the clinical reads of the item (a reader in two roles counts twice); a
-- distinct count of readers would double the cost of every grouped query.
with per_key as (
    select
        study_uid,
        finding,
        count(*)                                                                  as n_readers,
        min(read_datetime)                                                        as first_read_at,
        bool_or(coalesce(ai_assisted, false))                                     as any_ai_assisted,
        max(epoch_us(read_datetime) * 2 + label) filter (where read_role = 'adjudication') as adj,
        max(epoch_us(read_datetime) * 2 + label) filter (where read_role = 'consensus')    as cons,
        sum(label) filter (where read_role in ('primary', 'second'))               as indep_pos,
        count(*) filter (where read_role in ('primary', 'second'))                 as indep_n,
        min(epoch_us(read_datetime) * 2 + label) filter (where read_role = 'primary') as first_primary,
        min(epoch_us(read_datetime) * 2 + label) filter (where read_role in ('primary', 'second'))
            as first_indep
    from reads
    where arm = ''
    group by study_uid, finding
)
select
    study_uid,
    finding,
    case
        when adj is not null then adj & 1
        when cons is not null then cons & 1
        when indep_pos * 2 > indep_n then 1
        when indep_pos * 2 < indep_n then 0
        else coalesce(first_primary, first_indep) & 1
    end::tinyint as ref_label,
    case
        when adj is not null then 'adjudication'
        when cons is not null then 'consensus'
        when indep_n = 1 then 'single read'
        when indep_pos * 2 <> indep_n then 'majority'
        else 'majority tie: primary read'
    end as ref_source,
    n_readers,
    any_ai_assisted,
    first_read_at
from per_key
