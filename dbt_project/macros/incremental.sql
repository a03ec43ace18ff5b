{#- The first day an incremental day-grain model rebuilds: var('incremental_lookback_days')
    before the newest calendar_date (or date_column) it holds (late attendance corrections and
    late logins land inside the window). Looked up once per model, at its top:
    `{% set window_start = incremental_window_start() if is_incremental() else none %}`, then
    `where <date> > {{ window_start }}` inside `{% if is_incremental() %}`.
    The date is looked up when the model runs and written into the SQL as a literal, so DuckDB
    prunes the scans of day-sorted tables with their zone maps (a scalar subquery was planned as a
    filter after full scans). An empty table rebuilds from the beginning. -#}
{% macro incremental_window_start(date_column='calendar_date') -%}
    {%- set start = none -%}
    {%- if execute -%}
        {%- set found = run_query("select strftime(max(" ~ date_column ~ ") - " ~ var('incremental_lookback_days') ~ ", '%Y-%m-%d') from " ~ this) -%}
        {%- set start = found.columns[0].values()[0] -%}
    {%- endif -%}
    cast('{{ start or "0001-01-01" }}' as date)
{%- endmacro %}

{#- Models rebuilt by school year (int_students, int_course_marks, the course-failure metrics) keep
    in every row inputs_hash: a hash of what that school year was built from - the `parts` (SQL
    per school year: the newest snapshots' snapshot_version from stg_ingest__snapshots, an
    upstream model's inputs_hash), the seeds and vars the model reads, and the model's own SQL. A daily
    run rebuilds only the school years whose hash changed (school_years_to_rebuild): a new or
    re-sent snapshot rebuilds its year, an edited seed, var or model every year. A changed macro
    does not change the hash: the pipeline's first build after any change of code is a full
    refresh (bps_pipeline/transform/full_refresh.py), and so is the one after dbt by hand. -#}
{% macro inputs_hash(parts, seeds=[], vars=[]) -%}
    md5(concat_ws('|', '{{ model.checksum.checksum }}'
        {%- for p in parts %}, coalesce(cast({{ p }} as varchar), '-'){% endfor %}
        {%- for s in seeds %}, (select coalesce(md5(string_agg(cast(t as varchar), '|' order by cast(t as varchar))), '-') from {{ ref(s) }} t){% endfor %}
        {%- for v in vars %}, '{{ v }}={{ var(v) }}'{% endfor %}))
{%- endmacro %}

{#- The inputs of a model rebuilt by school year that reads one other model rebuilt so: per school
    year, the upstream model's inputs_hash (and this model's SQL, through inputs_hash). -#}
{% macro inputs_from(upstream) -%}
    select school_year, {{ inputs_hash(['max(inputs_hash)']) }} as inputs_hash
    from {{ ref(upstream) }} group by school_year
{%- endmacro %}

{#- The school years whose inputs_hash (`inputs`: SQL giving school_year and inputs_hash) differs
    from the hash their rows were built with, or that the model lacks: what a daily run rebuilds.
    Every year when the table has no inputs_hash yet (built before this macro; the column is then
    added by on_schema_change). Looked up when the model runs and written into the SQL as a
    literal list, like incremental_window_start, so DuckDB prunes the other years' rows. -#}
{% macro school_years_to_rebuild(inputs) -%}
    {%- set years = [] -%}
    {%- if execute -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if 'inputs_hash' in columns -%}
            {#- the built table's columns qualified: an unqualified name missing from it would bind to i's -#}
            {%- set built = "(select distinct b.school_year, b.inputs_hash from " ~ this ~ " b)" -%}
        {%- else -%}
            {%- set built = "(select null::integer as school_year, null::varchar as inputs_hash)" -%}
        {%- endif -%}
        {%- set found = run_query(
            "select distinct i.school_year from (" ~ inputs ~ ") i left join " ~ built ~ " t "
            ~ "on t.school_year = i.school_year where t.inputs_hash is distinct from i.inputs_hash order by 1") -%}
        {%- set years = found.columns[0].values() | map('int') | list -%}
    {%- endif -%}
    ({{ years | join(', ') if years else 'null' }})
{%- endmacro %}

{#- A post-hook of the models rebuilt by school year: delete the years the model holds that its
    upstream no longer has (every snapshot holding the year was sent again without it). dbt's
    delete+insert replaces only the years a build writes, so such a year's rows would stay until a
    full refresh. `upstream` is a relation with school_year; for stg_ingest__snapshots, also the
    extract (`source_name`, `extract`). Empty outside a daily build. -#}
{% macro delete_school_years_absent_from(upstream, source_name=none, extract=none) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where school_year not in (
        select school_year from {{ upstream }} where school_year is not null
        {%- if source_name %} and source = '{{ source_name }}' and extract = '{{ extract }}'{% endif %})
    {%- endif -%}
{%- endmacro %}
