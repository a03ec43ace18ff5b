-- Each student's attendance per school and school year, school year to date: days enrolled on
-- in-session days, days present (1 - absence portion), the last day at that school, and the
-- attendance snapshot the figures come from. One scan of int_student_days serves average daily
-- attendance, chronic absenteeism and graduates' senior-year attendance.
with attendance_as_of as (
    select school_year, max(extract_date) as as_of_date
    from {{ ref('stg_attendance__events') }}
    group by school_year
)

select d.school_year, d.local_id, d.school_id, a.as_of_date,
       count(*) as days_enrolled,
       sum(1 - d.portion_absent) as days_present,
       max(d.calendar_date) as last_day
from {{ ref('int_student_days') }} d
join attendance_as_of a on a.school_year = d.school_year
where d.in_attendance_period
group by d.school_year, d.local_id, d.school_id, a.as_of_date
