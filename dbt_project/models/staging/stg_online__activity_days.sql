-- The days with login data (as stg_online__activity has them), one row each: where a model needs
-- only how far a school year's logins reach, not the logins.
select _day as activity_date, _school_year as school_year, _newest as extract_date
from {{ daily_extract_days('online', 'activity', 'activity_date') }} d
where _day <= {{ as_of_date() }}
