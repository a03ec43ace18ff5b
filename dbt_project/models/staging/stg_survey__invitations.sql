select survey_id, respondent_type, school_id, sum(invited_count) as invited_count,
       _school_year as school_year, max(_extract_date) as extract_date
from {{ newest_snapshot('survey', 'invitations') }} s
group by survey_id, respondent_type, school_id, _school_year
