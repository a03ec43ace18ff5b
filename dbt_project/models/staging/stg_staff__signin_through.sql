-- How far each school year's sign-in data reaches (its newest day, as stg_staff__signins has it):
-- what the models that need only that read, instead of the year's sign-ins.
select _school_year as school_year, max(_day) as through_date
from {{ daily_extract_days('staff', 'signins') }} d
where _day <= {{ as_of_date() }}
group by _school_year
