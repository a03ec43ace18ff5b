-- Commitment 2 dashboard: attendance and online activity per in-session day, district and school.
select a.school_year, cast(a.period as date) as calendar_date, a.school_id,
       a.value as attendance_rate, cast(a.denominator as bigint) as enrolled_students, a.suppressed as attendance_suppressed,
       o.value as online_activity_rate, o.suppressed as online_suppressed
from {{ ref('metric_values') }} a
left join {{ ref('metric_values') }} o
  on o.metric_id = 'daily_online_activity' and o.period_type = 'day' and o.period = a.period
 and coalesce(o.school_id, '(district)') = coalesce(a.school_id, '(district)')
 and o.subgroup_type = 'all'
where a.metric_id = 'average_daily_attendance' and a.period_type = 'day' and a.subgroup_type = 'all'
