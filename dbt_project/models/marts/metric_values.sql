-- Every published figure, one row per metric, period, school (null = district) and subgroup,
-- suppressed, with the prior school year's value of the same cell. A suppressed cell shows no
-- prior value either: it shows nothing (the gate's suppressed_but_shown check), and a small
-- school's cell often passes the cell size one year and not the next.
with published as (
    select * from {{ ref('int_metric_cells_suppressed') }}
)

select cur.metric_id, cur.commitment, cur.school_year, cur.period_type, cur.period, cur.as_of_date,
       cur.school_id, cur.subgroup_type, cur.subgroup_value, cur.numerator, cur.denominator, cur.value,
       case when not cur.suppressed then prior.value end as prior_value, cur.suppressed
from published cur
left join published prior
  on prior.metric_id = cur.metric_id
 and prior.school_year = cur.school_year - 1
 and prior.period_type = cur.period_type
 and prior.period_key = cur.period_key
 and coalesce(prior.school_id, '(district)') = coalesce(cur.school_id, '(district)')
 and prior.subgroup_type = cur.subgroup_type
 and prior.subgroup_value = cur.subgroup_value
 and cur.period_type <> 'day'
