{{ config(materialized='incremental', incremental_strategy='delete+insert',
          unique_key='calendar_date', on_schema_change='fail') }}
{% set window_start = incremental_window_start() if is_incremental() else none %}
-- Commitment 2's daily counts: per in-session day, school and subgroup, the enrolled students
-- (den) and those of them with a login to any application (num). Accounts that are not
-- students' never match an email and drop out here. Days past the newest login of the year are
-- left out (no data yet, not zero activity).
-- Incremental like int_student_days: a daily run rebuilds only the last
-- var('incremental_lookback_days') days, not the year's logins.
with logins as (
    select distinct user_email, activity_date
    from {{ ref('stg_online__activity') }}
    {% if is_incremental() %}
    where activity_date > {{ window_start }}
    {% endif %}
)

select d.school_year, d.calendar_date, d.school_id, s.race_group, s.grade_band, s.learning_model,
       sum(case when l.user_email is not null then 1 else 0 end) as num,
       count(*) as den
from {{ ref('int_student_days') }} d
join {{ ref('stg_online__activity_through') }} t on t.school_year = d.school_year and d.calendar_date <= t.through_date
left join {{ ref('int_students') }} s on s.school_year = d.school_year and s.local_id = d.local_id
left join logins l on l.user_email = s.email and l.activity_date = d.calendar_date
{% if is_incremental() %}
where d.calendar_date > {{ window_start }}
{% endif %}
group by d.school_year, d.calendar_date, d.school_id, s.race_group, s.grade_band, s.learning_model
