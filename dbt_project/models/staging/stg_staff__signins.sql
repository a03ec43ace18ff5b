-- One row per sign-in as the newest file of its day has it. Exact repeats are not removed here:
-- every use counts distinct (staff member, day) or takes the newest day, and a DISTINCT over every
-- column would sort the year's sign-ins.
select staff_id, signin_date, sign_in_time, sign_out_time, location_type,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_per_day('staff', 'signins', 'signin_date') }} s
where signin_date <= {{ as_of_date() }}
