{{ config(materialized='incremental', incremental_strategy='delete+insert',
          unique_key='calendar_date', on_schema_change='fail') }}
{% set window_start = incremental_window_start() if is_incremental() else none %}
-- One row per student per in-session school day they were enrolled: the calendar's in-session
-- dates inside an enrollment span (entry inclusive, withdrawal exclusive), through the newest
-- date the year's attendance or online data reaches. Overlapping spans count the day once, at
-- the school of the newest span. portion_absent is filled where attendance covers the day.
-- About 10 million rows for a full year of a 56,000-student district.
-- Incremental: a daily run rebuilds only the days from var('incremental_lookback_days') before the
-- newest day built: every date in that window is deleted and rebuilt, so corrections inside it
-- land. `--full-refresh` (the weekly_full_refresh schedule, and every as-of build) rebuilds all.
-- The key is calendar_date alone, which dbt-duckdb deletes with a semi-join; a composite key
-- becomes a many-to-many DELETE ... USING join, slower than a full rebuild.
with spans as (
    select * from {{ ref('stg_sis__enrollments') }}
),

calendar as (
    select * from {{ ref('stg_sis__calendar') }} where in_session
),

attendance_through as (
    select school_year, max(extract_date) as through_date
    from {{ ref('stg_attendance__events') }}
    group by school_year
),

coverage as (
    select school_year, max(through_date) as through_date
    from (
        select school_year, through_date from attendance_through
        union all
        select school_year, through_date from {{ ref('stg_online__activity_through') }}
    ) t
    group by school_year
),

enrolled as (
    select e.school_year, e.local_id, c.calendar_date,
           max_by(e.school_id, e.entry_date) as school_id
    from spans e
    join calendar c
      on c.school_id = e.school_id
     and c.school_year = e.school_year
     and c.calendar_date >= e.entry_date
     and (e.withdrawal_date is null or c.calendar_date < e.withdrawal_date)
    join coverage cv
      on cv.school_year = e.school_year and c.calendar_date <= cv.through_date
    {% if is_incremental() %}
    where c.calendar_date > {{ window_start }}
    {% endif %}
    group by e.school_year, e.local_id, c.calendar_date
),

absences as (
    select local_id, event_date, max(portion_absent) as portion_absent
    from {{ ref('stg_attendance__events') }}
    {% if is_incremental() %}
    where event_date > {{ window_start }}
    {% endif %}
    group by local_id, event_date
)

select d.school_year, d.local_id, d.school_id, d.calendar_date,
       d.calendar_date <= a.through_date as in_attendance_period,
       case when d.calendar_date <= a.through_date then coalesce(ab.portion_absent, 0.0) end as portion_absent
from enrolled d
left join attendance_through a on a.school_year = d.school_year
left join absences ab on ab.local_id = d.local_id and ab.event_date = d.calendar_date
