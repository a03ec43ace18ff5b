{#- How a figure prints wherever a reader sees it (marts, report, run summary): one home for the
    format. `display` is the metric catalog's display column: percent, or a two-place number. -#}
{% macro display_figure(value, display) -%}
    case when {{ value }} is null then null
         when {{ display }} = 'percent' then printf('%.1f%%', 100 * {{ value }})
         else printf('%.2f', {{ value }}) end
{%- endmacro %}

{#- A change between two figures: percentage points for a rate ("+2.5 pts"), else signed. -#}
{% macro display_change(change, display) -%}
    case when {{ change }} is null then null
         when {{ display }} = 'percent' then printf('%+.1f pts', 100 * {{ change }})
         else printf('%+.2f', {{ change }}) end
{%- endmacro %}
