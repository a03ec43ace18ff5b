-- The report's anchor table: each commitment's anchor goal at its baseline year, with the change
-- from the prior year and its direction (a change within anchor_no_change_tolerance is No Change).
select g.commitment, g.metric_id, g.goal, g.baseline_school_year as school_year, m.as_of_date,
       m.value, m.prior_value, m.value - m.prior_value as change,
       m.display_value, m.prior_display_value, {{ display_change('m.value - m.prior_value', 'cat.display') }} as change_display,
       case when m.value is null or m.prior_value is null then null
            when abs(m.value - m.prior_value) < {{ var('anchor_no_change_tolerance') }} then 'No Change'
            when m.value > m.prior_value then 'Improvement'
            else 'Decline' end as direction
from {{ ref('anchor_goal_definitions') }} g
join {{ ref('metric_catalog') }} cat on cat.metric_id = g.metric_id
left join {{ ref('metric_values') }} m
  on m.metric_id = g.metric_id
 and m.school_year = g.baseline_school_year
 and m.school_id is null
 and m.subgroup_type = 'all'
 and m.period_type in ('school_year', 'fiscal_year')
