{#-
    The (period, region) partitions a run builds: var('partitions') when given on the command line,
    else the JSON list in the METAWATCH_DBT_PARTITIONS environment variable (how Dagster passes a
    run's partition keys), e.g. [{"period": 1024, "region": "us"}]. No partitions means every row
    qualifies: a full build.

    The environment variable is read only when executing, never while parsing: dbt re-parses every
    file that read an environment variable whose value changed, and --vars that differ from the
    last parse's force a full re-parse, so either would re-parse the project on every partition.
-#}
{% macro run_partitions() -%}
    {%- set partitions = var('partitions', none) -%}
    {%- if partitions is none -%}
        {%- set partitions = fromjson(env_var('METAWATCH_DBT_PARTITIONS', '[]')) if execute else [] -%}
    {%- endif -%}
    {{ return(partitions) }}
{%- endmacro %}

{#- The condition a row of the run's partitions meets (`true` when the run builds every partition). -#}
{% macro in_partitions(period_column='period', region_column='region') -%}
    {%- set partitions = run_partitions() -%}
    {%- if partitions | length == 0 -%}
        true
    {%- else -%}
        ({{ period_column }}, {{ region_column }}) in (
        {%- for partition in partitions -%}
            {%- set region = partition['region'] | string -%}
            {%- if not region.isalnum() -%}
                {{ exceptions.raise_compiler_error("invalid region in the partitions: " ~ region) }}
            {%- endif -%}
            ({{ partition['period'] | int }}, '{{ region }}'){{ ", " if not loop.last }}
        {%- endfor -%}
        )
    {%- endif -%}
{%- endmacro %}
