-- Every school and central office a published figure names, as the newest schools snapshot that
-- lists it describes it: what a dashboard shows beside a school_id.
with ranked as (
    select *, row_number() over (partition by school_id order by school_year desc) as newest
    from {{ ref('stg_sis__schools') }}
)

select school_id, school_name, school_type, grading_schedule, is_transformation_school,
       school_type = 'CENTRAL' as is_central_office, school_year as listed_in_school_year,
       extract_date as as_of_date
from ranked
where newest = 1
