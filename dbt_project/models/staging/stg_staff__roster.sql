-- One row per staff member per school year: the newest snapshot, each staff_id once (ingest
-- checks the contract's key). Languages: pipe-separated, English = en.
select staff_id, school_id, job_class, hispanic_ind,
       upper(replace(coalesce(race_codes, ''), ' ', '')) as race_codes,
       lower(coalesce(languages, 'en')) as languages, status, fte,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('staff', 'roster') }} s
