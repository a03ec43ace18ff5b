{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='school_year',
          on_schema_change='append_new_columns',
          post_hook="{{ delete_school_years_absent_from(ref('stg_ingest__snapshots'), 'sis', 'students') }}") }}
{% set inputs %}
    select school_year, {{ inputs_hash(['snapshot_version'], seeds=['grade_bands', 'race_groups']) }} as inputs_hash
    from {{ ref('stg_ingest__snapshots') }}
    where source = 'sis' and extract = 'students'
{% endset %}
-- Each school year's students with the subgroups every metric breaks down by.
-- Incremental by school year (inputs_hash): a daily run rebuilds the years whose students
-- snapshot is new or was sent again, or every year when a seed or this SQL changed, so prior
-- years are not rewritten every night.
with inputs as ({{ inputs }})
select s.school_year, s.local_id, s.state_id, s.school_id, s.grade_level, s.email,
       s.enrollment_status = 'Active' as is_active,
       {{ race_group_columns('s') }},
       {{ yn('s.is_ell') }} as ell,
       {{ yn('s.is_swd') }} as swd,
       {{ yn('s.is_low_income') }} as low_income,
       gb.grade_band,
       coalesce(gb.in_course_failure_scope, false) as in_course_failure_grades,
       s.learning_model,
       {{ has_language_other_than_english('s.home_language') }} as speaks_language_other_than_english,
       s.extract_date, i.inputs_hash
from {{ ref('stg_sis__students') }} s
left join inputs i on i.school_year = s.school_year
left join {{ ref('grade_bands') }} gb on gb.grade_level = s.grade_level
{{ race_group_joins('s') }}
{% if is_incremental() %}
where s.school_year in {{ school_years_to_rebuild(inputs) }}
{% endif %}
-- each school year in row groups of its own: replacing a year then drops whole row groups, where
-- deleting it from mixed ones makes the next checkpoint rewrite them all
order by s.school_year
