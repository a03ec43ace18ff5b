-- Budget lines; the fiscal year is the school year it funds (FY21 = SY2020-21).
select distinct school_id, fiscal_year, allocation_id, category, amount, need_based as is_need_based,
       _extract_date as extract_date
from {{ newest_snapshot('finance', 'budget_allocations', 'fiscal_year') }} s
