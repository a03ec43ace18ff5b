-- Every date of the school year per school; school year from the date itself.
select distinct school_id, calendar_date, in_session, _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('sis', 'calendar') }} s
where cast({{ school_year_of('calendar_date') }} as integer) = _school_year
