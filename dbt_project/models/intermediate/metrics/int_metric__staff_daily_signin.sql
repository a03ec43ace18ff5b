-- Commitment 5: active staff signed in each work day over active staff, averaged over work days.
with per_day as (
    select w.school_year, 'school_year' as period_type, cast(w.school_year as varchar) as period,
           max(a.through_date) as as_of_date, w.school_id, w.calendar_date as day,
           sum(case when w.signed_in then 1 else 0 end) as num, count(*) as den
    from {{ ref('int_staff_work_days') }} w
    join {{ ref('stg_staff__signin_through') }} a on a.school_year = w.school_year
    group by w.school_year, w.school_id, w.calendar_date
),
{{ metric_rollup('per_day', daily=true) }}
