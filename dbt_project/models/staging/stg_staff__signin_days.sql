-- The days with sign-in data (as stg_staff__signins has them), one row each: where a model needs
-- only how far a school year's sign-ins reach, not the sign-ins.
select _day as signin_date, _school_year as school_year, _newest as extract_date
from {{ daily_extract_days('staff', 'signins', 'signin_date') }} d
where _day <= {{ as_of_date() }}
