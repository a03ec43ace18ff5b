{#- Snapshot handling (architecture decision 4): every load keeps its extract date; staging
    reads the newest snapshot per school year among those dated on or before var('as_of_date'). -#}

{% macro as_of_date() -%}
    {%- if var('as_of_date') -%} cast('{{ var("as_of_date") }}' as date)
    {%- else -%} cast('9999-12-31' as date) {%- endif -%}
{%- endmacro %}

{#- The school year (the year it ends) that a date falls in: July 1 - June 30. -#}
{% macro school_year_of(date_expr) -%}
    (extract(year from {{ date_expr }}) + case when extract(month from {{ date_expr }}) >= 7 then 1 else 0 end)
{%- endmacro %}

{#- Rows of the newest snapshot per school year. year_expr: the school-year column when the
    extract has one (the contract's year_column), else the year of the extract date. Which file
    is the newest per school year comes from stg_ingest__snapshots, over the index ingest writes
    with the rows: grouping the raw table itself would read every night's snapshot, a history that
    grows all year, while the join on the index's few dates lets DuckDB skip all but the newest
    file's row groups. -#}
{% macro newest_snapshot(source_name, table_name, year_expr=none) -%}
    {%- set year = year_expr if year_expr else school_year_of('_extract_date') -%}
    (
        select src.*
        from (
            select *, cast({{ year }} as integer) as _school_year
            from {{ source(source_name, table_name) }}
            where _extract_date <= {{ as_of_date() }}
        ) src
        join {{ ref('stg_ingest__snapshots') }} newest
          on newest.source = '{{ source_name }}' and newest.extract = '{{ table_name }}'
         and newest.school_year = src._school_year and newest.extract_date = src._extract_date
    )
{%- endmacro %}

{#- Daily extracts: one file per day; when a day arrives in more than one file, the newest file wins.
    day_column is the contract's day_column for the extract, which ingest indexes in raw._days. -#}
{% macro newest_per_day(source_name, table_name, day_column) -%}
    (
        select src.*, newest._school_year
        from {{ source(source_name, table_name) }} src
        join {{ daily_extract_days(source_name, table_name) }} newest
          on newest._day = src.{{ day_column }} and newest._newest = src._extract_date
    )
{%- endmacro %}

{#- The days a daily extract has data for, each with the newest file holding it (_newest) and its
    school year, from ingest's index of the daily files (raw._days). A day's rows are those of that
    file (newest_per_day), so "the newest day of each school year" is a question for these few
    hundred rows, not for a year of logins. -#}
{% macro daily_extract_days(source_name, table_name) -%}
    (
        select day as _day, max(extract_date) as _newest,
               cast({{ school_year_of('day') }} as integer) as _school_year
        from {{ source('ingest', 'days') }}
        where source = '{{ source_name }}' and extract = '{{ table_name }}'
          and extract_date <= {{ as_of_date() }}
        group by day
    )
{%- endmacro %}

{#- Y/N flags as subgroup values. -#}
{% macro yn(bool_expr) -%}
    case when {{ bool_expr }} then 'Y' when not ({{ bool_expr }}) then 'N' end
{%- endmacro %}
