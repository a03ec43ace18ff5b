{#- on-run-start: note every dbt invocation that can write models, and the Dagster run that started
    it (none: dbt run by hand). A daily build after one by hand rebuilds in full
    (bps_pipeline/transform/full_refresh.py), since such a build writes rows no record describes. -#}
{% macro record_invocation() -%}
    {%- if flags.WHICH in ('build', 'run', 'seed', 'snapshot', 'retry') -%}
    {%- set command = flags.WHICH ~ ((' --select ' ~ (invocation_args_dict.get('select') | join(' '))) if invocation_args_dict.get('select') else '') -%}
    create schema if not exists raw;
    create table if not exists raw._dbt_invocations (
        invocation_id varchar, started_at timestamp, command varchar, dagster_run_id varchar);
    insert into raw._dbt_invocations values (
        '{{ invocation_id }}', cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp),
        '{{ command | replace("'", "''") }}', nullif('{{ env_var("BPS_DAGSTER_RUN_ID", "") }}', ''))
    {%- endif -%}
{%- endmacro %}
