{#- Commitment 5 anchor: (share of active teachers with the attribute) over (share of active
    students with it), district and school. numerator and denominator hold the two shares; the
    cell size is the smaller of the two head counts. -#}
{% macro parity_index(attribute) -%}
with teachers as (
    select school_year, school_id, count(*) as n, sum(case when {{ attribute }} then 1 else 0 end) as k,
           max(extract_date) as as_of_date
    from {{ ref('int_staff') }}
    where is_active_teacher
    group by grouping sets ((school_year, school_id), (school_year))
),

students as (
    select school_year, school_id, count(*) as n, sum(case when {{ attribute }} then 1 else 0 end) as k,
           max(extract_date) as as_of_date
    from {{ ref('int_students') }}
    where is_active
    group by grouping sets ((school_year, school_id), (school_year))
)

select cast(t.school_year as integer) as school_year, 'school_year' as period_type,
       cast(t.school_year as varchar) as period, greatest(t.as_of_date, s.as_of_date) as as_of_date,
       cast(t.school_id as varchar) as school_id, 'all' as subgroup_type, 'all' as subgroup_value,
       cast(cast(t.k as double) / t.n as decimal(18, 6)) as numerator,
       cast(cast(s.k as double) / s.n as decimal(18, 6)) as denominator,
       case when s.k > 0 then (cast(t.k as double) / t.n) / (cast(s.k as double) / s.n) end as value,
       cast(least(t.n, s.n) as bigint) as cell_size
from teachers t
join students s
  on s.school_year = t.school_year
 and coalesce(s.school_id, '(district)') = coalesce(t.school_id, '(district)')
{%- endmacro %}
