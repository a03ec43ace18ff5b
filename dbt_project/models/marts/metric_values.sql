-- Every published figure, one row per metric, period, school (null = district) and subgroup,
-- with small cells suppressed (design/metrics.md) and the prior school year's value.
{%- set metric_models = [
    ('graduate_readiness', 'int_metric__graduate_readiness'),
    ('core_course_failure_rate', 'int_metric__core_course_failure_rate'),
    ('students_failing_one_plus', 'int_metric__students_failing_one_plus'),
    ('schools_growth_ela_math', 'int_metric__schools_growth_ela_math'),
    ('average_daily_attendance', 'int_metric__average_daily_attendance'),
    ('average_daily_attendance', 'int_metric__average_daily_attendance_by_day'),
    ('chronic_absenteeism', 'int_metric__chronic_absenteeism'),
    ('daily_online_activity', 'int_metric__daily_online_activity'),
    ('family_engagement_core_elements', 'int_metric__family_engagement_core_elements'),
    ('survey_response_rate', 'int_metric__survey_response_rate'),
    ('survey_favorable', 'int_metric__survey_favorable'),
    ('remote_learning_share', 'int_metric__remote_learning_share'),
    ('need_based_allocation', 'int_metric__need_based_allocation'),
    ('chromebook_coverage', 'int_metric__chromebook_coverage'),
    ('chromebook_opt_out', 'int_metric__chromebook_opt_out'),
    ('staff_parity_index_race', 'int_metric__staff_parity_index_race'),
    ('staff_parity_index_language', 'int_metric__staff_parity_index_language'),
    ('staff_daily_signin', 'int_metric__staff_daily_signin'),
    ('school_partnerships', 'int_metric__school_partnerships'),
] %}

with computed as (
    {%- for metric_id, model in metric_models %}
    select '{{ metric_id }}' as metric_id, school_year, period_type, period, as_of_date, school_id,
           subgroup_type, subgroup_value, numerator, denominator, value, cell_size
    from {{ ref(model) }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

cells as (
    select c.*, cat.commitment, cat.suppress,
           -- a breakdown: the cells that add up to one total (schools of the district, or the
           -- values of one subgroup type at one grain); complementary suppression works within it
           case when c.subgroup_type = 'all' and c.school_id is null then 'district'
                when c.subgroup_type = 'all' then 'schools'
                else coalesce(c.school_id, '(district)') || ':' || c.subgroup_type end as breakdown,
           cat.suppress and coalesce(c.cell_size, 0) < {{ var('min_cell_size') }} as is_small
    from computed c
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

select cur.metric_id, cur.commitment, cur.school_year, cur.period_type, cur.period, cur.as_of_date,
       cur.school_id, cur.subgroup_type, cur.subgroup_value, cur.numerator, cur.denominator, cur.value,
       prior.value as prior_value, cur.suppressed
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
