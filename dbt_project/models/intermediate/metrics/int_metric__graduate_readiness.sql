-- Commitment 1 anchor: graduates meeting all five readiness criteria over all graduates.
with senior_year as (
    select school_year, local_id, sum(days_present) / sum(days_enrolled) as attendance_rate
    from {{ ref('int_student_attendance') }}
    group by school_year, local_id
),

graduates as (
    select g.school_year, 'school_year' as period_type, cast(g.school_year as varchar) as period,
           g.extract_date as as_of_date, g.school_id, g.local_id as person_id, 1 as den,
           case when g.gpa >= {{ var('ready_min_gpa') }}
                 and a.attendance_rate >= {{ var('ready_min_attendance_rate') }}
                 and g.masscore_complete and g.advanced_coursework and g.anytime_learning
                then 1 else 0 end as num
    from {{ ref('stg_sis__graduates') }} g
    left join senior_year a on a.school_year = g.school_year and a.local_id = g.local_id
),
{{ metric_rollup('graduates') }}
