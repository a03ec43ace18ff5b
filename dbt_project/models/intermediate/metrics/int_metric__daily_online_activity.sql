-- Commitment 2: per in-session day, enrolled students with a login (any application) over
-- enrolled students; the school-year value is the mean of the daily rates. Accounts that are not
-- students' never match an email and drop out here.
with logins as (
    select distinct user_email, activity_date from {{ ref('stg_online__activity') }}
),

through as (
    select school_year, max(activity_date) as as_of_date from {{ ref('stg_online__activity') }} group by school_year
),

per_day as (
    select d.school_year, 'school_year' as period_type, cast(d.school_year as varchar) as period,
           t.as_of_date, d.school_id, d.calendar_date as day,
           sum(case when l.user_email is not null then 1 else 0 end) as num, count(*) as den,
           s.race_group, s.grade_band, s.learning_model
    from {{ ref('int_student_days') }} d
    join through t on t.school_year = d.school_year and d.calendar_date <= t.as_of_date
    left join {{ ref('int_students') }} s on s.school_year = d.school_year and s.local_id = d.local_id
    left join logins l on l.user_email = s.email and l.activity_date = d.calendar_date
    group by d.school_year, t.as_of_date, d.school_id, d.calendar_date, s.race_group, s.grade_band, s.learning_model
),
{{ metric_rollup('per_day', ['race_group', 'grade_band', 'learning_model'], daily=true) }}
