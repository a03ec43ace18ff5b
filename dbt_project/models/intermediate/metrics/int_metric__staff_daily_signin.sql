-- Commitment 5: active staff signed in each work day over active staff, averaged over work days.
with per_day as (
    select school_year, 'school_year' as period_type, cast(school_year as varchar) as period,
           max(signin_as_of) as as_of_date, school_id, calendar_date as day,
           sum(case when signed_in then 1 else 0 end) as num, count(*) as den
    from {{ ref('int_staff_work_days') }}
    group by school_year, school_id, calendar_date
),
{{ metric_rollup('per_day', daily=true) }}
