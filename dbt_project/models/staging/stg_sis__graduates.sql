select distinct local_id, school_id, school_year, gpa, masscore_complete, advanced_coursework, anytime_learning,
       _extract_date as extract_date
from {{ newest_snapshot('sis', 'graduates', 'school_year') }} s
