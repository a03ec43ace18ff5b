-- Commitment 3 dashboard: response rate and number of responses per survey and respondent type.
select school_year, period as survey_id, school_id, subgroup_value as respondent_type,
       value as response_rate, cast(numerator as bigint) as responses, cast(denominator as bigint) as invited, suppressed, as_of_date,
       display_value
from {{ ref('metric_values') }}
where metric_id = 'survey_response_rate' and subgroup_type in ('all', 'respondent_type')
