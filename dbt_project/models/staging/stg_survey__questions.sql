select distinct survey_id, question_id, respondent_type, question_text, scale_max, favorable_min,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('survey', 'questions') }} s
