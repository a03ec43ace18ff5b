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
    extract has one, else the year of the extract date. -#}
{% macro newest_snapshot(source_name, table_name, year_expr=none) -%}
    {%- set year = year_expr if year_expr else school_year_of('_extract_date') -%}
    (
        select src.*
        from (
            select *, cast({{ year }} as integer) as _school_year
            from {{ source(source_name, table_name) }}
            where _extract_date <= {{ as_of_date() }}
        ) src
        join (
            select cast({{ year }} as integer) as _school_year, max(_extract_date) as _newest
            from {{ source(source_name, table_name) }}
            where _extract_date <= {{ as_of_date() }}
            group by 1
        ) newest
          on newest._school_year = src._school_year and newest._newest = src._extract_date
    )
{%- endmacro %}

{#- Daily extracts: one file per day; when a day arrives in more than one file, the newest file wins. -#}
{% macro newest_per_day(source_name, table_name, day_column) -%}
    (
        select src.*, cast({{ school_year_of(day_column) }} as integer) as _school_year
        from {{ source(source_name, table_name) }} src
        join (
            select {{ day_column }} as _day, max(_extract_date) as _newest
            from {{ source(source_name, table_name) }}
            where _extract_date <= {{ as_of_date() }}
            group by 1
        ) newest
          on newest._day = src.{{ day_column }} and newest._newest = src._extract_date
    )
{%- endmacro %}

{#- Y/N flags as subgroup values. -#}
{% macro yn(bool_expr) -%}
    case when {{ bool_expr }} then 'Y' when not ({{ bool_expr }}) then 'N' end
{%- endmacro %}
