-- Attendance exceptions. Absence portion: blank means a full day when absent; tardy and
-- dismissed students were present (portion 0).
select local_id, school_id, event_date, absent_ind as is_absent,
       coalesce(tardy_ind, false) as is_tardy, coalesce(dismissed_ind, false) as is_dismissed,
       coalesce(excused_ind, false) as is_excused,
       case when absent_ind then least(greatest(coalesce(portion_absent, 1.0), 0.0), 1.0) else 0.0 end as portion_absent,
       reason_code, attendance_mode, _school_year as school_year, _extract_date as extract_date
from {{ newest_snapshot('attendance', 'attendance_events') }} s
