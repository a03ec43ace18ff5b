-- Enrollment spans (entry inclusive, withdrawal exclusive) of each school year's newest snapshot.
select distinct local_id, school_id, school_year, entry_date, withdrawal_date, entry_code, withdrawal_code,
       _extract_date as extract_date
from {{ newest_snapshot('sis', 'enrollments', 'school_year') }} s
