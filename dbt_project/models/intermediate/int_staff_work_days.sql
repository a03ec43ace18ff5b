{{ config(materialized='incremental', incremental_strategy='delete+insert',
          unique_key='calendar_date', on_schema_change='fail') }}
{% set window_start = incremental_window_start() if is_incremental() else none %}
-- Active staff on each work day (a date on which any school is in session), through the newest
-- sign-in day, with whether they signed in. Staff on leave or terminated are not counted.
-- Incremental like int_student_days: the lookback window is rebuilt each run.
with work_days as (
    select distinct c.school_year, c.calendar_date
    from {{ ref('stg_sis__calendar') }} c
    where c.in_session
),

signed as (
    select distinct staff_id, signin_date from {{ ref('stg_staff__signins') }}
    {% if is_incremental() %}
    where signin_date > {{ window_start }}  -- the window's days need only the window's sign-ins
    {% endif %}
)

select st.school_year, st.staff_id, st.school_id, st.job_class, w.calendar_date,
       s.staff_id is not null as signed_in
from {{ ref('int_staff') }} st
join {{ ref('stg_staff__signin_through') }} t on t.school_year = st.school_year
join work_days w on w.school_year = st.school_year and w.calendar_date <= t.through_date
left join signed s on s.staff_id = st.staff_id and s.signin_date = w.calendar_date
where st.is_active
{% if is_incremental() %}
  and w.calendar_date > {{ window_start }}
{% endif %}
