-- Commitment 2 (DESE standard): students enrolled 20+ days attending 90% or less, over students
-- enrolled 20+ days; each student counted at the school where they spent the most days.
with attendance_as_of as (
    -- the attendance snapshot each school year's figures come from
    select school_year, max(extract_date) as as_of_date from {{ ref('stg_attendance__events') }} group by school_year
),

per_student as (
    select d.school_year, d.local_id, max(aa.as_of_date) as as_of_date, count(*) as days,
           sum(1 - d.portion_absent) / count(*) as attendance_rate,
           max_by(d.school_id, d.calendar_date) as school_id
    from {{ ref('int_student_days') }} d
    join attendance_as_of aa on aa.school_year = d.school_year
    where d.in_attendance_period
    group by d.school_year, d.local_id
),

students as (
    select p.school_year, 'school_year' as period_type, cast(p.school_year as varchar) as period, p.as_of_date,
           p.school_id, p.local_id as person_id, 1 as den,
           case when p.attendance_rate <= {{ var('chronic_max_attendance_rate') }} then 1 else 0 end as num,
           s.race_group, s.ell, s.swd, s.low_income, s.grade_band, s.learning_model
    from per_student p
    left join {{ ref('int_students') }} s on s.school_year = p.school_year and s.local_id = p.local_id
    where p.days >= {{ var('chronic_min_days') }}
),
{{ metric_rollup('students', ['race_group', 'ell', 'swd', 'low_income', 'grade_band', 'learning_model']) }}
