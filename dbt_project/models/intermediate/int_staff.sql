-- Each school year's staff with race group and languages, by the same rule as students.
select r.school_year, r.staff_id, r.school_id, r.job_class, r.status,
       r.status = 'Active' as is_active,
       r.status = 'Active' and r.job_class = 'Teacher' as is_active_teacher,
       {{ race_group_columns('r') }},
       {{ has_language_other_than_english('r.languages') }} as speaks_language_other_than_english,
       r.extract_date
from {{ ref('stg_staff__roster') }} r
{{ race_group_joins('r') }}
