-- One row per staff member per school year (newest snapshot). Languages: pipe-separated, English = en.
select staff_id, school_id, job_class, hispanic_ind,
       upper(replace(coalesce(race_codes, ''), ' ', '')) as race_codes,
       lower(coalesce(languages, 'en')) as languages, status, fte,
       _school_year as school_year, _extract_date as extract_date
from (
    select *, row_number() over (partition by _school_year, staff_id order by school_id) as _rn
    from {{ newest_snapshot('staff', 'roster') }} s
) s
where _rn = 1
