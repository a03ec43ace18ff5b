-- Commitment 2 (DESE standard): students enrolled 20+ days attending 90% or less, over students
-- enrolled 20+ days; each student counted once, at the school where they were last enrolled.
with per_student as (
    select school_year, local_id, max(as_of_date) as as_of_date, sum(days_enrolled) as days,
           sum(days_present) / sum(days_enrolled) as attendance_rate,
           max_by(school_id, last_day) as school_id
    from {{ ref('int_student_attendance') }}
    group by school_year, local_id
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
{{ metric_rollup('students', ['race_group', 'ell', 'swd', 'low_income', 'grade_band', 'learning_model'],
                 cell_size='count(*)') }}
