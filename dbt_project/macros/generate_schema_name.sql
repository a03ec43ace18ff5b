{#- Schemas are named for the layer (staging, intermediate, marts, reference), not prefixed by
    the target schema, so dashboards and the publish step find marts.* in every environment. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
