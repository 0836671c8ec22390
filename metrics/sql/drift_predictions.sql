-- Predictions reduced to the sufficient statistics of drift monitoring: per group dimensions
-- (the study's, finding, model_name, model_version), month, score bin and AI call, the rows (n)
-- and how many of them the reference standard calls positive (n_pos) or negative (n_neg); the
-- rest are pending.
-- Parameters: $bins (equal-width score bins on [0, 1]; a score of exactly 1 goes to the top bin),
-- $start, $end (study dates, end exclusive), $model_version (NULL = every version).
-- The source (a placeholder in the from clause) is one row per prediction with its study's
-- dimensions and reference label: metrics._filters.cases_source, the per-snapshot cases table
-- (radqa/derived.py) when attached, else the join that builds it. A prediction without a study
-- row has no study date and so falls outside every period.
-- The 10M-row pass groups on the raw values (a month as a truncated timestamp); labels for
-- missing values and month text are applied to the small grouped result only.
with grouped as (
    select
        site, scanner_manufacturer, scanner_model, scanner_software, modality,
        finding,
        model_name,
        model_version,
        date_trunc('month', study_datetime)                          as month_start,
        least(greatest(floor(score * $bins), 0), $bins - 1)::integer as bin,
        predicted,
        count(*)                                as n,
        count(*) filter (where ref_label = 1)   as n_pos,
        count(*) filter (where ref_label = 0)   as n_neg
    from /*source*/ as p
    where study_datetime >= $start
      and study_datetime < $end
      and ($model_version is null or model_version = $model_version)
    group by all
)

select
    coalesce(site, '(unknown)')                 as site,
    coalesce(scanner_manufacturer, '(unknown)') as scanner_manufacturer,
    coalesce(scanner_model, '(unknown)')        as scanner_model,
    coalesce(scanner_software, '(unknown)')     as scanner_software,
    coalesce(modality, '(unknown)')             as modality,
    finding,
    model_name,
    model_version,
    strftime(month_start, '%Y-%m')              as month,
    bin,
    predicted,
    sum(n)::bigint                              as n,
    sum(n_pos)::bigint                          as n_pos,
    sum(n_neg)::bigint                          as n_neg
from grouped
group by all
