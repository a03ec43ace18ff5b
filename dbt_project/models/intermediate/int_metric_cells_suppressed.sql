-- Every cell as it is published: the exact counts of int_metric_cells, hidden where
-- int_metric_cell_visibility decided (suppressed: all three; range-coded: value and numerator).
select c.metric_id, cat.commitment, c.school_year, c.period_type, c.period, c.as_of_date, c.school_id,
       c.subgroup_type, c.subgroup_value,
       case when v.numerator_hidden or v.suppressed then null else c.numerator end as numerator,
       case when v.suppressed then null else c.denominator end as denominator,
       case when v.numerator_hidden or v.suppressed then null else c.value end as value,
       v.suppressed, v.coded_label,
       -- periods that recur each year line up with the prior year's; days and surveys do not
       case when c.period_type in ('school_year', 'fiscal_year') then c.period_type else c.period end as period_key
from {{ ref('int_metric_cells') }} c
join {{ ref('int_metric_cell_visibility') }} v
  on v.metric_id = c.metric_id and v.school_year = c.school_year and v.period_type = c.period_type
 and v.period = c.period and v.school_id is not distinct from c.school_id
 and v.subgroup_type = c.subgroup_type and v.subgroup_value = c.subgroup_value
join {{ ref('metric_catalog') }} cat on cat.metric_id = c.metric_id
