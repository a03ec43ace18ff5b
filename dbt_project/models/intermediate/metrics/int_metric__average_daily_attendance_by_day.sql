-- Commitment 2: attendance per in-session day, district and school, by learning model.
with attendance_as_of as (
    select distinct school_year, as_of_date from {{ ref('int_student_attendance') }}
),

per_day as (
    select d.school_year, 'school_year' as period_type, cast(d.school_year as varchar) as period,
           max(aa.as_of_date) as as_of_date, d.school_id, d.calendar_date as day,
           sum(1 - d.portion_absent) as num, count(*) as den, s.learning_model
    from {{ ref('int_student_days') }} d
    join attendance_as_of aa on aa.school_year = d.school_year
    left join {{ ref('int_students') }} s on s.school_year = d.school_year and s.local_id = d.local_id
    where d.in_attendance_period
    group by d.school_year, d.school_id, d.calendar_date, s.learning_model
),
days as (
    with {{ metric_rollup('per_day', ['learning_model'], daily=true) | indent(4) }}
)
select * from days where period_type = 'day'
