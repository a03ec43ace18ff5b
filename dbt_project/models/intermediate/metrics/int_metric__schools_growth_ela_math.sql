-- Commitment 2 anchor: schools with 20+ students with an SGP in each subject whose mean SGP is
-- 50+ in ELA and in math, over schools with 20+ in both. Counts schools: never suppressed.
with by_school as (
    select school_year, school_id, max(extract_date) as as_of_date,
           count(case when subject = 'ELA' then sgp end) as n_ela,
           count(case when subject = 'MATH' then sgp end) as n_math,
           avg(case when subject = 'ELA' then sgp end) as mean_ela,
           avg(case when subject = 'MATH' then sgp end) as mean_math
    from {{ ref('stg_assessment__sgp') }}
    group by school_year, school_id
),

schools as (
    select school_year, 'school_year' as period_type, cast(school_year as varchar) as period, as_of_date,
           school_id, school_id as person_id, 1 as den,
           case when mean_ela >= {{ var('growth_min_mean_sgp') }} and mean_math >= {{ var('growth_min_mean_sgp') }}
                then 1 else 0 end as num
    from by_school
    where n_ela >= {{ var('growth_min_students') }} and n_math >= {{ var('growth_min_students') }}
),
{{ metric_rollup('schools', school_grain=false) }}
