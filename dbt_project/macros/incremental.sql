{#- The first day an incremental day-grain model rebuilds: var('incremental_lookback_days')
    before the newest calendar_date it holds (late attendance corrections and late logins land
    inside the window). Used as `where <date> > {{ incremental_window_start() }}`. -#}
{% macro incremental_window_start() -%}
    (select {{ dbt.dateadd('day', -var('incremental_lookback_days'), 'max(calendar_date)') }} from {{ this }})
{%- endmacro %}
