-- Posted term marks, verbatim as Aspen shows them; int_course_marks classifies them.
select local_id, school_id, school_year, term, course_number, course_description, department, section,
       nullif(trim(mark), '') as mark, post_date, _extract_date as extract_date
from {{ newest_snapshot('sis', 'course_marks', 'school_year') }} s
