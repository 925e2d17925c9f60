{#-
    The (period, region) partitions a run builds, from var('partitions') (set by Dagster from the
    run's partition keys). With no partitions given, every row qualifies: a full build.
-#}
{% macro in_partitions(period_column='period', region_column='region') -%}
    {%- set partitions = var('partitions', []) -%}
    {%- if partitions | length == 0 -%}
        true
    {%- else -%}
        ({{ period_column }}, {{ region_column }}) in (
        {%- for partition in partitions -%}
            {%- set region = partition['region'] | string -%}
            {%- if not region.isalnum() -%}
                {{ exceptions.raise_compiler_error("invalid region in var('partitions'): " ~ region) }}
            {%- endif -%}
            ({{ partition['period'] | int }}, '{{ region }}'){{ ", " if not loop.last }}
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
