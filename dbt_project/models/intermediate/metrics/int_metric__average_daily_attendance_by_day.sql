-- Commitment 2: attendance per in-session day, district and school, by learning model. The daily
-- counts come from int_attendance_days (incremental), so this model only rolls them up.
with attendance_as_of as (
    select distinct school_year, as_of_date from {{ ref('int_student_attendance') }}
),

per_day as (
    select a.school_year, 'school_year' as period_type, cast(a.school_year as varchar) as period,
           aa.as_of_date, a.school_id, a.calendar_date as day, a.num, a.den, a.learning_model
    from {{ ref('int_attendance_days') }} a
    join attendance_as_of aa on aa.school_year = a.school_year
),
days as (
    with {{ metric_rollup('per_day', ['learning_model'], daily=true) | indent(4) }}
)
select * from days where period_type = 'day'
