-- The reference label alone, for the grouped queries over millions of predictions: the same
-- precedence as reference_standard.sql (adjudication > consensus > majority of primary and second
-- reads > the earliest primary read; clinical reads only; no row = pending), without the columns
-- those queries do not need (n_readers costs a distinct count). tests/metrics/test_grouped.py
-- checks that both files give the same label and source on every precedence case and on
-- random reads.
--
-- "Latest adjudication's label" is max(read time * 2 + label) with the label in the low bit: one
-- plain max instead of arg_max, and reads at the same instant resolve to label 1 deterministically.
with per_key as (
    select
        study_uid,
        finding,
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
    any_ai_assisted
from per_key
