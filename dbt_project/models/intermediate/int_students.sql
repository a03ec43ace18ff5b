-- Each school year's students with the subgroups every metric breaks down by.
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
       s.extract_date
from {{ ref('stg_sis__students') }} s
left join {{ ref('grade_bands') }} gb on gb.grade_level = s.grade_level
{{ race_group_joins('s') }}
