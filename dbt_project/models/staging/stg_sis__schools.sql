-- One row per school per school year, from that year's newest directory snapshot (ingest admits
-- a snapshot only with each school_id once).
select school_id, school_name, school_type, grading_schedule,
       coalesce(transformation_school, false) as is_transformation_school,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('sis', 'schools') }} s
