-- Commitment 2: days present over enrolled in-session student-days, school year to date (pooled).
-- The per-day rows come from int_metric__average_daily_attendance_by_day.
with per_student as (
    select a.school_year, 'school_year' as period_type, cast(a.school_year as varchar) as period,
           a.as_of_date, a.school_id, a.local_id as person_id,
           a.days_present as num, a.days_enrolled as den,
           s.race_group, s.ell, s.swd, s.low_income, s.grade_band, s.learning_model
    from {{ ref('int_student_attendance') }} a
    left join {{ ref('int_students') }} s on s.school_year = a.school_year and s.local_id = a.local_id
),
{{ metric_rollup('per_student', ['race_group', 'ell', 'swd', 'low_income', 'grade_band', 'learning_model']) }}
