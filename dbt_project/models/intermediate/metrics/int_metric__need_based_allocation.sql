-- Commitment 4 anchor: need-based dollars over all allocated dollars, per fiscal year. Counts
-- dollars: never suppressed.
with lines as (
    select fiscal_year as school_year, 'fiscal_year' as period_type, cast(fiscal_year as varchar) as period,
           extract_date as as_of_date, school_id, allocation_id as person_id,
           case when is_need_based then amount else 0 end as num, amount as den
    from {{ ref('stg_finance__budget_allocations') }}
),
{{ metric_rollup('lines') }}
