-- One row per student per school year (newest snapshot). A blank home language counts as English
-- and emails are lower-cased here, once, so every join on them matches case-insensitively.
select local_id, state_id, school_id, grade_level, hispanic_ind,
       upper(replace(coalesce(race_codes, ''), ' ', '')) as race_codes,
       gender, coalesce(ell_ind, false) as is_ell, coalesce(sped_ind, false) as is_swd,
       coalesce(low_income_ind, false) as is_low_income,
       lower(coalesce(home_language, 'en')) as home_language,
       learning_model, lower(trim(email)) as email, enrollment_status,
       _school_year as school_year, _extract_date as extract_date
from (
    select *, row_number() over (partition by _school_year, local_id order by school_id) as _rn
    from {{ newest_snapshot('sis', 'students') }} s
) s
where _rn = 1
