-- Commitment 2: per in-session day, enrolled students with a login (any application) over
-- enrolled students; the school-year value is the mean of the daily rates. The daily counts
-- come from int_online_activity_days (incremental), so this model only rolls them up.
with per_day as (
    select o.school_year, 'school_year' as period_type, cast(o.school_year as varchar) as period,
           t.through_date as as_of_date, o.school_id, o.calendar_date as day, o.num, o.den,
           o.race_group, o.grade_band, o.learning_model
    from {{ ref('int_online_activity_days') }} o
    join {{ ref('stg_online__activity_through') }} t on t.school_year = o.school_year
),
{{ metric_rollup('per_day', ['race_group', 'grade_band', 'learning_model'], daily=true) }}
