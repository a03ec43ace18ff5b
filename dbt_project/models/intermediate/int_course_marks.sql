{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='school_year',
          on_schema_change='append_new_columns',
          post_hook="{{ delete_school_years_absent_from(ref('stg_ingest__snapshots'), 'sis', 'course_marks') }}") }}
{% set inputs %}
    select m.school_year,
           {{ inputs_hash(['m.snapshot_version', 'sc.snapshot_version', 's.inputs_hash'],
                          seeds=['not_graded_marks', 'failing_marks', 'core_departments'],
                          vars=['passing_numeric_mark']) }} as inputs_hash
    from {{ ref('stg_ingest__snapshots') }} m
    left join {{ ref('stg_ingest__snapshots') }} sc
      on sc.source = 'sis' and sc.extract = 'schools' and sc.school_year = m.school_year
    left join (select school_year, max(inputs_hash) as inputs_hash from {{ ref('int_students') }} group by 1) s
      on s.school_year = m.school_year
    where m.source = 'sis' and m.extract = 'course_marks'
{% endset %}
-- Marks classified once: failing / passing / not_graded. A numeric part decides when there is
-- one ('59.5' fails, '60' and '85.12 B+' pass); otherwise the letter code (failing_marks seed).
-- Blank and the not_graded_marks seed (INC, NM) are left out of both counts.
-- Incremental by school year like int_students: a year's marks are rebuilt when its marks,
-- schools or students (their inputs_hash) changed, every year when a seed, the var or this SQL did.
with inputs as ({{ inputs }}),

marks as (
    select m.*,
           upper(trim(m.mark)) as mark_code,
           try_cast(regexp_extract(m.mark, '^\s*([0-9]+(\.[0-9]+)?)', 1) as double) as numeric_mark
    from {{ ref('stg_sis__course_marks') }} m
    {% if is_incremental() %}
    where m.school_year in {{ school_years_to_rebuild(inputs) }}
    {% endif %}
)

select m.school_year, m.term, m.local_id, m.school_id, m.department, m.course_number, m.mark,
       m.numeric_mark, m.extract_date,
       case
           when m.mark is null or m.mark_code in (select mark_code from {{ ref('not_graded_marks') }}) then 'not_graded'
           when m.numeric_mark is not null then
               case when m.numeric_mark < {{ var('passing_numeric_mark') }} then 'failing' else 'passing' end
           when m.mark_code in (select mark_code from {{ ref('failing_marks') }}) then 'failing'
           else 'passing'
       end as mark_class,
       -- the report's scope: grades 6-12, quarter-schedule schools, quarter terms, core subjects
       coalesce(s.in_course_failure_grades, false)
           and sc.grading_schedule = 'quarter'
           and m.term like 'Q%'
           and m.department in (select department from {{ ref('core_departments') }}) as in_core_failure_scope,
       s.school_id as student_school_id, s.race_group, s.ell, s.swd, s.low_income, s.grade_band, s.learning_model,
       i.inputs_hash
from marks m
left join inputs i on i.school_year = m.school_year
left join {{ ref('int_students') }} s on s.school_year = m.school_year and s.local_id = m.local_id
left join {{ ref('stg_sis__schools') }} sc on sc.school_year = m.school_year and sc.school_id = m.school_id
order by m.school_year  -- each school year in row groups of its own, as in int_students
