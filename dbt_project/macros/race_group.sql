{#- The report's race-group rule, applied to students and staff alike; the groups themselves
    live in the race_groups seed: Hispanic -> Latinx; else a single race AS/BL/WH -> its group;
    anything else (several races, AM, PI, none) -> Multi-Race/Other. -#}

{% macro race_group_joins(alias) -%}
    left join {{ ref('race_groups') }} _rg_single on _rg_single.race_code = {{ alias }}.race_codes
    cross join (select race_group, of_color from {{ ref('race_groups') }} where race_code = '_HISPANIC') _rg_hispanic
    cross join (select race_group, of_color from {{ ref('race_groups') }} where race_code = '_OTHER') _rg_other
{%- endmacro %}

{% macro race_group_columns(alias) -%}
    case when {{ alias }}.hispanic_ind then _rg_hispanic.race_group
         else coalesce(_rg_single.race_group, _rg_other.race_group) end as race_group,
    case when {{ alias }}.hispanic_ind then _rg_hispanic.of_color
         else coalesce(_rg_single.of_color, _rg_other.of_color) end as is_of_color
{%- endmacro %}

{#- True when a pipe-separated language list names a language other than English. -#}
{% macro has_language_other_than_english(expr) -%}
    (trim(both '|' from replace(replace(
        '|' || replace(replace(lower(coalesce({{ expr }}, 'en')), ' ', ''), 'english', 'en') || '|',
        '|en|', '|'), '|en|', '|')) <> '')
{%- endmacro %}
