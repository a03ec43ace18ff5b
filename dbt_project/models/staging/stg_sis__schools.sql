-- One row per school per school year, from that year's newest directory snapshot.
select school_id, school_name, school_type, grading_schedule,
       coalesce(transformation_school, false) as is_transformation_school,
       _school_year as school_year, _extract_date as extract_date
from (
    select *, row_number() over (partition by _school_year, school_id order by _loaded_at desc) as _rn
    from {{ newest_snapshot('sis', 'schools') }} s
) s
where _rn = 1
