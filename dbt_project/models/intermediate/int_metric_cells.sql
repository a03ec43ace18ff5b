-- Every metric's cells before suppression: the union of the int_metric__* models, less a school's
-- subgroups' days unless var('publish_school_subgroup_days').
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


    {%- for metric_id, model in metric_models %}
    select '{{ metric_id }}' as metric_id, school_year, period_type, period, as_of_date, school_id,
           subgroup_type, subgroup_value, numerator, denominator, value, cell_size
    from {{ ref(model) }}
    {%- if not var('publish_school_subgroup_days') %}
    where not (period_type = 'day' and school_id is not null and subgroup_type <> 'all')
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
