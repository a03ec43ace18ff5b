-- Commitment 3: per question, non-blank answers at or above favorable_min over non-blank answers.
with answers as (
    select q.school_year, 'survey' as period_type, r.survey_id as period, r.extract_date as as_of_date,
           r.school_id, r.response_id as person_id, r.question_id, r.respondent_type,
           case when r.answer_value >= q.favorable_min then 1 else 0 end as num, 1 as den
    from {{ ref('stg_survey__responses') }} r
    join {{ ref('stg_survey__questions') }} q on q.survey_id = r.survey_id and q.question_id = r.question_id
    where r.answer_value is not null
),
{{ metric_rollup('answers', ['question_id', 'respondent_type']) }}
