-- Each student's attendance per school and school year, school year to date: days enrolled on
-- in-session days, days present (1 - absence portion), the last day at that school, and the
-- attendance snapshot the figures come from. Summed from the student's months
-- (int_student_attendance_months); serves average daily attendance, chronic absenteeism and
-- graduates' senior-year attendance.
with attendance_as_of as (
    select school_year, max(extract_date) as as_of_date
    from {{ ref('stg_attendance__events') }}
    group by school_year
)

select m.school_year, m.local_id, m.school_id, a.as_of_date,
       cast(sum(m.days_enrolled) as bigint) as days_enrolled,
       sum(m.days_present) as days_present,
       max(m.last_day) as last_day
from {{ ref('int_student_attendance_months') }} m
join attendance_as_of a on a.school_year = m.school_year
group by m.school_year, m.local_id, m.school_id, a.as_of_date
