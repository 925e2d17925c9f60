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


{#-
    Incremental strategy for the weekly marts: replace exactly the partitions of this run (delete
    them, insert the freshly computed rows) in the model's transaction, leaving every other
    partition untouched. A partition that has lost all its rows is emptied, which delete+insert on
    a unique key would miss.
-#}
{% macro get_incremental_replace_partitions_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }} where {{ in_partitions() }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }};
{%- endmacro %}
