-- Commitment 1 dashboard: Q-term core course failure by subject and students failing 1+ by race
-- group, district and school, this year beside the prior year (the report's two tables).
select metric_id, school_year, period as term, school_id, subgroup_type, subgroup_value,
       value, prior_value, value - prior_value as change,
       cast(numerator as bigint) as numerator, cast(denominator as bigint) as denominator, suppressed, as_of_date,
       display_value
from {{ ref('metric_values') }}
where metric_id in ('core_course_failure_rate', 'students_failing_one_plus')
  and subgroup_type in ('all', 'subject', 'race_group')
