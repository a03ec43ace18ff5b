-- Commitment 4: active students with a device currently Assigned over active students. A student
-- with both an Opt-Out row and an assigned device is covered.
with devices as (
    select school_year, local_id, max(extract_date) as as_of_date,
           max(case when status = 'Assigned' then 1 else 0 end) as has_assigned
    from {{ ref('stg_devices__chromebook_assignments') }}
    where local_id is not null
    group by school_year, local_id
),

snapshot as (
    select school_year, max(extract_date) as as_of_date from {{ ref('stg_devices__chromebook_assignments') }} group by school_year
),

students as (
    select s.school_year, 'school_year' as period_type, cast(s.school_year as varchar) as period, sn.as_of_date,
           s.school_id, s.local_id as person_id, 1 as den, coalesce(d.has_assigned, 0) as num,
           s.race_group, s.ell, s.swd, s.low_income, s.grade_band, s.learning_model
    from {{ ref('int_students') }} s
    join snapshot sn on sn.school_year = s.school_year
    left join devices d on d.school_year = s.school_year and d.local_id = s.local_id
    where s.is_active
),
{{ metric_rollup('students', ['race_group', 'ell', 'swd', 'low_income', 'grade_band', 'learning_model']) }}
