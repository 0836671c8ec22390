-- Study attributes reduced to counts per group dimensions, month, attribute and category, for
-- input (case-mix) drift. Only studies the AI scored count (of $model_version when not NULL).
-- Attribute model_version counts, per model (model_name), the studies each version of it
-- scored: a study scored by two models counts once under each, and model_name is NULL on the
-- rows of the study's own attributes (one row per study each). Attribute model_studies (no
-- category) counts, per model, the distinct studies any version of it scored: the
-- denominator of a version's share, since a study two versions scored side by side counts
-- once under each version but is one study.
-- Parameters: $start, $end (study dates, end exclusive), $model_version. The age_band placeholder is the
-- age-band expression of the group column age_band (radqa/derived.py AGE_BAND_SQL).
with versions as (
    select distinct study_uid, model_name, model_version
    from predictions
    where $model_version is null or model_version = $model_version
),

scored as (
    select distinct study_uid
    from versions
),

attributes as (
    select
        s.study_uid,
        coalesce(s.site, '(unknown)')                 as site,
        coalesce(s.scanner_manufacturer, '(unknown)') as scanner_manufacturer,
        coalesce(s.scanner_model, '(unknown)')        as scanner_model,
        coalesce(s.scanner_software, '(unknown)')     as scanner_software,
        coalesce(s.modality, '(unknown)')             as modality,
        strftime(s.study_datetime, '%Y-%m')           as month,
        coalesce(s.scanner_manufacturer, '(unknown)') as a_scanner_manufacturer,
        coalesce(s.scanner_model, '(unknown)')        as a_scanner_model,
        coalesce(s.scanner_software, '(unknown)')     as a_scanner_software,
        coalesce(s.modality, '(unknown)')             as a_modality,
        coalesce(s.body_part, '(unknown)')            as a_body_part,
        coalesce(s.patient_sex, '(unknown)')          as a_patient_sex,
        coalesce(/*age_band*/, '(unknown)')           as a_age_band
    from studies as s
    semi join scored on scored.study_uid = s.study_uid
    where s.study_datetime >= $start
      and s.study_datetime < $end
),

long as (
    unpivot attributes
    on a_scanner_manufacturer, a_scanner_model, a_scanner_software, a_modality, a_body_part,
       a_patient_sex, a_age_band
    into name attribute value category
)

select
    site, scanner_manufacturer, scanner_model, scanner_software, modality, month,
    null::varchar        as model_name,
    substr(attribute, 3) as attribute,
    category,
    count(*)             as n
from long
group by all

union all

select
    a.site, a.scanner_manufacturer, a.scanner_model, a.scanner_software, a.modality, a.month,
    coalesce(v.model_name, '(unknown)')    as model_name,
    'model_version'                        as attribute,
    coalesce(v.model_version, '(unknown)') as category,
    count(*)                               as n
from attributes as a
join versions as v on v.study_uid = a.study_uid
group by all

union all

select
    a.site, a.scanner_manufacturer, a.scanner_model, a.scanner_software, a.modality, a.month,
    coalesce(v.model_name, '(unknown)') as model_name,
    'model_studies'                     as attribute,
    null::varchar                       as category,
    count(distinct a.study_uid)         as n
from attributes as a
join versions as v on v.study_uid = a.study_uid
group by all
