{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='school_year',
          on_schema_change='append_new_columns',
          post_hook="{{ delete_school_years_absent_from(ref('int_course_marks')) }}") }}
{% set inputs = inputs_from('int_course_marks') %}
-- Commitment 1: students with a failing core mark over students with a graded core mark.
-- One row per student and quarter, at the student's own school. Incremental by school year, like
-- the core course failure rate.
with students as (
    select school_year, 'term' as period_type, term as period, max(extract_date) as as_of_date,
           student_school_id as school_id, local_id as person_id,
           max(case when mark_class = 'failing' then 1 else 0 end) as num, 1 as den,
           race_group, ell, swd, low_income, grade_band
    from {{ ref('int_course_marks') }}
    where in_core_failure_scope and mark_class <> 'not_graded'
    {% if is_incremental() %}
      and school_year in {{ school_years_to_rebuild(inputs) }}
    {% endif %}
    group by school_year, term, student_school_id, local_id, race_group, ell, swd, low_income, grade_band
),
{{ metric_rollup('students', ['race_group', 'ell', 'swd', 'low_income', 'grade_band'], inputs=inputs) }}
