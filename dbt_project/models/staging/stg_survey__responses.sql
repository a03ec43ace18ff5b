select distinct survey_id, response_id, respondent_type, school_id, question_id, answer_value, submitted_at,
       _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('survey', 'responses') }} s
