-- Predictions reduced to the sufficient statistics of drift monitoring: per group dimensions,
-- month, score bin and AI call, the rows (n) and how many of them the reference standard calls
-- positive (n_pos) or negative (n_neg); the rest are pending.
-- Parameters: $bins (equal-width score bins on [0, 1]; a score of exactly 1 goes to the top bin),
-- $start, $end (study dates, end exclusive), $model_version (NULL = every version).
-- The reference standard (reference_standard.sql) is spliced in as the CTE "reference".
with reference as (
    /*reference_standard*/
),

monitored as (
    select
        coalesce(s.site, '(unknown)')                 as site,
        coalesce(s.scanner_manufacturer, '(unknown)') as scanner_manufacturer,
        coalesce(s.scanner_model, '(unknown)')        as scanner_model,
        coalesce(s.scanner_software, '(unknown)')     as scanner_software,
        coalesce(s.modality, '(unknown)')             as modality,
        p.finding,
        p.model_version,
        strftime(s.study_datetime, '%Y-%m')           as month,
        least(greatest(floor(p.score * $bins), 0), $bins - 1)::integer as bin,
        p.predicted,
        r.ref_label
    from predictions as p
    join studies as s on s.study_uid = p.study_uid
    left join reference as r on r.study_uid = p.study_uid and r.finding = p.finding
    where s.study_datetime >= $start
      and s.study_datetime < $end
      and ($model_version is null or p.model_version = $model_version)
)

select
    site, scanner_manufacturer, scanner_model, scanner_software, modality, finding,
    model_version, month, bin, predicted,
    count(*)                                  as n,
    count(*) filter (where ref_label = 1)     as n_pos,
    count(*) filter (where ref_label = 0)     as n_neg
from monitored
group by all
