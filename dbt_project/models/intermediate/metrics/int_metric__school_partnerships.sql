-- Commitment 6 anchor: schools (not central offices) with a partnership in the Opportunity
-- Portfolio over all schools. Counts schools: never suppressed.
with partnered as (
    select school_year, school_id, max(extract_date) as as_of_date,
           max(case when in_opportunity_portfolio then 1 else 0 end) as in_portfolio
    from {{ ref('stg_partners__partnerships') }}
    group by school_year, school_id
),

years as (
    select school_year, max(as_of_date) as as_of_date from partnered group by school_year
),

schools as (
    select s.school_year, 'school_year' as period_type, cast(s.school_year as varchar) as period, y.as_of_date,
           s.school_id, s.school_id as person_id, 1 as den, coalesce(p.in_portfolio, 0) as num
    from {{ ref('stg_sis__schools') }} s
    join years y on y.school_year = s.school_year
    left join partnered p on p.school_year = s.school_year and p.school_id = s.school_id
    where s.school_type <> 'CENTRAL'
),
{{ metric_rollup('schools', school_grain=false) }}
