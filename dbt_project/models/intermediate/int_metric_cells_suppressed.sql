-- Small-cell suppression (design/metrics.md): a cell whose denominator counts people and whose
-- cell size is below min_cell_size is hidden; when exactly one cell of a breakdown is hidden, the
-- next-smallest is hidden too so the first cannot be recovered from the total.
with cells as (
    select c.*, cat.commitment, cat.suppress,
           -- a breakdown: the cells that add up to one total (schools of the district, or the
           -- values of one subgroup type at one grain); complementary suppression works within it
           case when c.subgroup_type = 'all' and c.school_id is null then 'district'
                when c.subgroup_type = 'all' then 'schools'
                else coalesce(c.school_id, '(district)') || ':' || c.subgroup_type end as breakdown,
           cat.suppress and coalesce(c.cell_size, 0) < {{ var('min_cell_size') }} as is_small
    from {{ ref('int_metric_cells') }} c
    join {{ ref('metric_catalog') }} cat on cat.metric_id = c.metric_id
),

ranked as (
    select cells.*,
           sum(case when is_small then 1 else 0 end) over w as small_in_breakdown,
           count(*) over w as cells_in_breakdown,
           row_number() over (partition by metric_id, school_year, period_type, period, breakdown
                              order by case when is_small then 1 else 0 end, cell_size, school_id, subgroup_value) as size_rank
    from cells
    window w as (partition by metric_id, school_year, period_type, period, breakdown)
),

suppressed as (
    select ranked.*,
           is_small or (suppress and small_in_breakdown = 1 and cells_in_breakdown > 1 and size_rank = 1) as is_suppressed
    from ranked
),

published as (
    select metric_id, commitment, school_year, period_type, period, as_of_date, school_id, subgroup_type, subgroup_value,
           case when is_suppressed then null else numerator end as numerator,
           case when is_suppressed then null else denominator end as denominator,
           case when is_suppressed then null else value end as value,
           is_suppressed as suppressed,
           -- periods that recur each year line up with the prior year's; days and surveys do not
           case when period_type in ('school_year', 'fiscal_year') then period_type else period end as period_key
    from suppressed
)

select * from published
