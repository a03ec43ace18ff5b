-- Commitment 3: active students in the fully remote model over active students.
-- One row per student and school year (int_students' grain, tested).
with students as (
    select school_year, 'school_year' as period_type, cast(school_year as varchar) as period,
           extract_date as as_of_date, school_id, local_id as person_id, 1 as den,
           case when learning_model = 'Remote' then 1 else 0 end as num,
           race_group, ell, swd, low_income, grade_band
    from {{ ref('int_students') }}
    where is_active and learning_model is not null
),
{{ metric_rollup('students', ['race_group', 'ell', 'swd', 'low_income', 'grade_band'], cell_size='count(*)') }}
