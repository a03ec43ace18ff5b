select distinct school_id, school_year, partner_name, in_opportunity_portfolio, _extract_date as extract_date
from {{ newest_snapshot('partners', 'partnerships', 'school_year') }} s
