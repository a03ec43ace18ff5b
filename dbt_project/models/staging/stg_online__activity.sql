-- Login activity, one row per account, day and application; emails lower-cased for matching.
select lower(trim(user_email)) as user_email, activity_date, application, event_count,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_per_day('online', 'activity', 'activity_date') }} s
where activity_date <= {{ as_of_date() }}
