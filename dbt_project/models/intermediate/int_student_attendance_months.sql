{{ config(materialized='incremental', incremental_strategy='delete+insert',
          unique_key='month_start', on_schema_change='fail') }}
{% set window_start = incremental_window_start('last_day') if is_incremental() else none %}
-- Each student's attendance per school and calendar month: days enrolled on in-session days in
-- the attendance period, days present (1 - absence portion) and the last such day.
-- int_student_attendance sums a year's months (about 10 rows a student) instead of scanning the
-- year's student-days every night.
-- Incremental: a daily run rebuilds every month from the one holding var('incremental_lookback_days')
-- before the newest day here. That day is never later than int_student_days' own window start
-- (its newest day can only be later: online coverage runs ahead of attendance), so every day
-- int_student_days rebuilt lands in a month rebuilt here. The key is the month alone (see
-- int_student_days on composite keys).
select school_year, cast(date_trunc('month', calendar_date) as date) as month_start, local_id, school_id,
       count(*) as days_enrolled,
       sum(1 - portion_absent) as days_present,
       max(calendar_date) as last_day
from {{ ref('int_student_days') }}
where in_attendance_period
{% if is_incremental() %}
  and calendar_date >= cast(date_trunc('month', {{ window_start }}) as date)
{% endif %}
group by school_year, month_start, local_id, school_id
