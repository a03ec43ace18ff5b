-- One row per student per school year: the newest snapshot, which ingest admits only with each
-- local_id once (the contract's key). A blank home language counts as English and emails are
-- lower-cased here, once, so every join on them matches case-insensitively.
select local_id, state_id, school_id, grade_level, hispanic_ind,
       upper(replace(coalesce(race_codes, ''), ' ', '')) as race_codes,
       gender, coalesce(ell_ind, false) as is_ell, coalesce(sped_ind, false) as is_swd,
       coalesce(low_income_ind, false) as is_low_income,
       lower(coalesce(home_language, 'en')) as home_language,
       learning_model, lower(trim(email)) as email, enrollment_status,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('sis', 'students') }} s
