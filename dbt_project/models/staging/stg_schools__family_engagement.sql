select distinct school_id, school_year, element_id, eligible as is_eligible, implemented as is_implemented,
       _extract_date as extract_date
from {{ newest_snapshot('schools', 'family_engagement', 'school_year') }} s
