-- Commitment 4: active students with a device currently Assigned over active students.
-- One row per student and school year (int_student_devices' grain, tested).
with students as (
    select school_year, 'school_year' as period_type, cast(school_year as varchar) as period, as_of_date,
           school_id, local_id as person_id, 1 as den, case when has_device then 1 else 0 end as num,
           race_group, ell, swd, low_income, grade_band, learning_model
    from {{ ref('int_student_devices') }}
),
{{ metric_rollup('students', ['race_group', 'ell', 'swd', 'low_income', 'grade_band', 'learning_model'],
                 cell_size='count(*)') }}
