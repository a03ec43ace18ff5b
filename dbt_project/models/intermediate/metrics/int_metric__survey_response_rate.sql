-- Commitment 3: distinct submitted responses over invited, per survey and respondent type.
with responses as (
    select survey_id, respondent_type, school_id, count(distinct response_id) as responses, max(extract_date) as as_of_date
    from {{ ref('stg_survey__responses') }}
    group by survey_id, respondent_type, school_id
),

cells as (
    select i.school_year, 'survey' as period_type, i.survey_id as period,
           coalesce(r.as_of_date, i.extract_date) as as_of_date, i.school_id, i.respondent_type,
           coalesce(r.responses, 0) as num, i.invited_count as den, cast(null as varchar) as person_id
    from {{ ref('stg_survey__invitations') }} i
    left join responses r on r.survey_id = i.survey_id and r.respondent_type = i.respondent_type and r.school_id = i.school_id
),
{{ metric_rollup('cells', ['respondent_type'], cell_size='sum(den)') }}
