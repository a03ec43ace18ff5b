-- Each school year's active students with their Chromebook state in that year's newest inventory
-- snapshot. A student with both an Opt-Out row and an Assigned device has a device.
with devices as (
    select school_year, local_id,
           max(case when status = 'Assigned' then 1 else 0 end) as has_assigned,
           max(case when status = 'Opt-Out' then 1 else 0 end) as has_opt_out
    from {{ ref('stg_devices__chromebook_assignments') }}
    where local_id is not null
    group by school_year, local_id
),

snapshot as (
    select school_year, max(extract_date) as as_of_date
    from {{ ref('stg_devices__chromebook_assignments') }}
    group by school_year
)

select s.school_year, sn.as_of_date, s.school_id, s.local_id,
       coalesce(d.has_assigned, 0) = 1 as has_device,
       coalesce(d.has_opt_out, 0) = 1 and coalesce(d.has_assigned, 0) = 0 as opted_out,
       s.race_group, s.ell, s.swd, s.low_income, s.grade_band, s.learning_model
from {{ ref('int_students') }} s
join snapshot sn on sn.school_year = s.school_year
left join devices d on d.school_year = s.school_year and d.local_id = s.local_id
where s.is_active
