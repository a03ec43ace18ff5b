{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='school_year',
          on_schema_change='append_new_columns',
          post_hook="{{ delete_school_years_absent_from(ref('int_course_marks')) }}") }}
{% set inputs = inputs_from('int_course_marks') %}
-- Commitment 1: failing over graded core marks (grades 6-12, quarter schools), per quarter.
-- Incremental by school year: a year's cells are rebuilt when its marks were (their inputs_hash).
with marks as (
    select school_year, 'term' as period_type, term as period, extract_date as as_of_date, school_id,
           local_id as person_id, case when mark_class = 'failing' then 1 else 0 end as num, 1 as den,
           department as subject, race_group, ell, swd, low_income, grade_band
    from {{ ref('int_course_marks') }}
    where in_core_failure_scope and mark_class <> 'not_graded'
    {% if is_incremental() %}
      and school_year in {{ school_years_to_rebuild(inputs) }}
    {% endif %}
),
{{ metric_rollup('marks', ['subject', 'race_group', 'ell', 'swd', 'low_income', 'grade_band'], inputs=inputs) }}
