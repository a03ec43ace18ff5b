-- How far each school year's login data reaches (its newest day, as stg_online__activity has it):
-- what the models that need only that read, instead of the year's logins.
select _school_year as school_year, max(_day) as through_date
from {{ daily_extract_days('online', 'activity') }} d
where _day <= {{ as_of_date() }}
group by _school_year
