{#- Rolls one metric's input rows up to every published cell: the district (school_id null) and
    each school, for 'all' and for each subgroup column named. Emits CTEs, so call it after a
    comma in a WITH clause and nothing after it.

    Input columns: school_year, period_type, period, as_of_date, school_id, num, den, and
      - person_id (daily=false): the person a row counts, for the cell size; or
      - day (daily=true): rows are people-days; each cell also gets one row per day
        (period_type 'day') and its value is the mean of the daily rates. The rates are summed as
        decimals (15 places): a sum of DOUBLEs depends on the order the days arrive in, which
        differs between a full and a daily build, so the figures could differ in the last digit.
    cell_size (the suppression count) defaults to the distinct people in the cell; for daily
    metrics it is the largest daily denominator. A model whose input has at most one row per person
    and period (its grain, held by a unique test upstream) passes 'count(*)': the people in a cell
    are then its rows, without hashing every row of every subgroup for a distinct count.
    inputs (SQL giving school_year and inputs_hash), for a metric rebuilt by school year: each cell
    gets its school year's inputs_hash. -#}
{% macro metric_rollup(relation, subgroups=[], school_grain=true, daily=false, cell_size='count(distinct person_id)',
                       inputs=none) -%}
{%- set unit = 'day' if daily else 'person_id' -%}
{%- set sets = 'grouping sets ((school_year, period_type, period, subgroup_type, subgroup_value' ~ (', day' if daily else '') ~ ', school_id), (school_year, period_type, period, subgroup_type, subgroup_value' ~ (', day' if daily else '') ~ '))' if school_grain else 'school_year, period_type, period, subgroup_type, subgroup_value' ~ (', day' if daily else '') -%}
{%- set school = 'school_id' if school_grain else 'cast(null as varchar) as school_id' -%}
_unpivoted as (
    select school_year, period_type, period, as_of_date, school_id, {{ unit }}, num, den,
           'all' as subgroup_type, 'all' as subgroup_value
    from {{ relation }}
    {%- for sg in subgroups %}
    union all
    select school_year, period_type, period, as_of_date, school_id, {{ unit }}, num, den,
           '{{ sg }}', cast({{ sg }} as varchar)
    from {{ relation }}
    where {{ sg }} is not null
    {%- endfor %}
),
{%- if daily %}
_per_day as (
    select school_year, period_type, period, day, max(as_of_date) as as_of_date, {{ school }},
           subgroup_type, subgroup_value, sum(num) as num, sum(den) as den
    from _unpivoted
    group by {{ sets }}
),
_rolled as (
    select school_year, 'day' as period_type, cast(day as varchar) as period, as_of_date, school_id,
           subgroup_type, subgroup_value, num as numerator, den as denominator,
           cast(num as double) / den as value, den as cell_size
    from _per_day
    where den > 0
    union all
    select school_year, period_type, period, max(as_of_date), school_id, subgroup_type, subgroup_value,
           sum(num), sum(den), avg(cast(cast(num as double) / den as decimal(18, 15))), max(den)
    from _per_day
    where den > 0
    group by school_year, period_type, period, school_id, subgroup_type, subgroup_value
)
{%- else %}
_rolled as (
    select school_year, period_type, period, max(as_of_date) as as_of_date, {{ school }},
           subgroup_type, subgroup_value, sum(num) as numerator, sum(den) as denominator,
           cast(sum(num) as double) / nullif(sum(den), 0) as value, {{ cell_size }} as cell_size
    from _unpivoted
    group by {{ sets }}
)
{%- endif %}
select cast(school_year as integer) as school_year, period_type, cast(period as varchar) as period,
       cast(as_of_date as date) as as_of_date, cast(school_id as varchar) as school_id,
       subgroup_type, subgroup_value,
       cast(numerator as decimal(18, 6)) as numerator, cast(denominator as decimal(18, 6)) as denominator,
       cast(value as double) as value, cast(cell_size as bigint) as cell_size
       {%- if inputs %}, inputs_hash{% endif %}
from _rolled
{%- if inputs %}
left join ({{ inputs }}) _inputs using (school_year)
{%- endif %}
{%- endmacro %}
