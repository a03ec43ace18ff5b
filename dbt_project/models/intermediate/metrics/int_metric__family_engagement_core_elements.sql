-- Commitment 3 anchor: schools implementing 80%+ of their eligible core elements, over schools
-- that reported. Counts schools: never suppressed.
with by_school as (
    select school_year, school_id, max(extract_date) as as_of_date,
           sum(case when is_eligible then 1 else 0 end) as eligible,
           sum(case when is_eligible and is_implemented then 1 else 0 end) as implemented
    from {{ ref('stg_schools__family_engagement') }}
    group by school_year, school_id
),

schools as (
    select school_year, 'school_year' as period_type, cast(school_year as varchar) as period, as_of_date,
           school_id, school_id as person_id, 1 as den,
           case when eligible > 0 and cast(implemented as double) / eligible >= {{ var('family_engagement_min_share') }}
                then 1 else 0 end as num
    from by_school
),
{{ metric_rollup('schools', school_grain=false) }}
