select distinct state_id, school_id, school_year, subject, sgp, _extract_date as extract_date
from {{ newest_snapshot('assessment', 'sgp', 'school_year') }} s
