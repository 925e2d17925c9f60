{#-
    What a data test reads of the model it tests: dbt's own `where` config, and for a weekly mart
    only the rows of the partitions the run builds. Otherwise each partition's check would count,
    and fail on, the rows of every partition built before it. (A `where` config cannot do this: it
    is rendered while parsing, without the project's macros or the run's partitions.)
-#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append(config.get('where')) -%}
    {%- endif -%}
    {%- if execute and model.attached_node
        and graph.nodes[model.attached_node].config.materialized == 'replace_partitions' -%}
        {%- do conditions.append(in_partitions()) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where (' ~ conditions | join(') and (')
            ~ ')) dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
