{{ config(materialized='incremental', incremental_strategy='delete+insert',
          unique_key='calendar_date', on_schema_change='fail') }}
{% set window_start = incremental_window_start() if is_incremental() else none %}
-- Average daily attendance's daily counts: per in-session day in the attendance period, school
-- and learning model, the enrolled students (den) and the days present (num, 1 - absence portion).
-- Incremental like int_student_days, so a daily run aggregates the window's days instead of the
-- year's student-days.
select d.school_year, d.calendar_date, d.school_id, s.learning_model,
       sum(1 - d.portion_absent) as num, count(*) as den
from {{ ref('int_student_days') }} d
left join {{ ref('int_students') }} s on s.school_year = d.school_year and s.local_id = d.local_id
where d.in_attendance_period
{% if is_incremental() %}
  and d.calendar_date > {{ window_start }}
{% endif %}
group by d.school_year, d.calendar_date, d.school_id, s.learning_model
