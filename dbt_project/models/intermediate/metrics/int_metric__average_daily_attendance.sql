-- Commitment 2: days present over enrolled in-session student-days, school year to date (pooled),
-- plus one row per day (period_type 'day') for the daily chart.
with attendance_as_of as (
    -- the attendance snapshot each school year's figures come from
    select school_year, max(extract_date) as as_of_date from {{ ref('stg_attendance__events') }} group by school_year
),

per_student as (
    select d.school_year, 'school_year' as period_type, cast(d.school_year as varchar) as period,
           max(aa.as_of_date) as as_of_date, d.school_id, d.local_id as person_id,
           sum(1 - d.portion_absent) as num, count(*) as den,
           s.race_group, s.ell, s.swd, s.low_income, s.grade_band, s.learning_model
    from {{ ref('int_student_days') }} d
    join attendance_as_of aa on aa.school_year = d.school_year
    left join {{ ref('int_students') }} s on s.school_year = d.school_year and s.local_id = d.local_id
    where d.in_attendance_period
    group by d.school_year, d.school_id, d.local_id, s.race_group, s.ell, s.swd, s.low_income, s.grade_band, s.learning_model
),
{{ metric_rollup('per_student', ['race_group', 'ell', 'swd', 'low_income', 'grade_band', 'learning_model']) }}
