-- Every published figure, one row per metric, period, school (null = district) and subgroup, as
-- int_metric_cells_suppressed hides it, with the prior school year's value of the same cell and
-- both as a reader sees them (display_value, prior_display_value: macro display_figure). A
-- suppressed cell shows no prior value either: it shows nothing, and a small school's cell often
-- passes the cell size one year and not the next.
with published as (
    select * from {{ ref('int_metric_cells_suppressed') }}
)

select cur.metric_id, cur.commitment, cur.school_year, cur.period_type, cur.period, cur.as_of_date,
       cur.school_id, cur.subgroup_type, cur.subgroup_value,
       cast(cur.numerator as decimal(18, 6)) as numerator, cast(cur.denominator as decimal(18, 6)) as denominator,
       cur.value, case when not cur.suppressed then prior.value end as prior_value, cur.suppressed,
       cur.coded_label is not null as range_coded,
       case when cur.suppressed then 'suppressed'
            else coalesce(cur.coded_label, {{ display_figure('cur.value', 'cat.display') }}) end as display_value,
       case when not cur.suppressed
            then coalesce(prior.coded_label, {{ display_figure('prior.value', 'cat.display') }}) end as prior_display_value
from published cur
join {{ ref('metric_catalog') }} cat on cat.metric_id = cur.metric_id
left join published prior
  on prior.metric_id = cur.metric_id
 and prior.school_year = cur.school_year - 1
 and prior.period_type = cur.period_type
 and prior.period_key = cur.period_key
 and coalesce(prior.school_id, '(district)') = coalesce(cur.school_id, '(district)')
 and prior.subgroup_type = cur.subgroup_type
 and prior.subgroup_value = cur.subgroup_value
 and cur.period_type <> 'day'
