{#-
    Materialization of the weekly marts: replace exactly the partitions of this run (delete them,
    insert the model's rows straight from its query) in one transaction, leaving every other
    partition untouched. A partition that has lost all its rows is emptied.

    Unlike dbt's incremental materialization it stages no temporary table (for fct_runs that copy
    cost as much as the query). A table that does not exist yet, a --full-refresh or a view in its
    place is (re)built whole from the query. The model's columns must equal the table's, names,
    order and types: any drift fails the model, and a --full-refresh rebuilds it.
-#}
{% materialization replace_partitions, adapter='duckdb' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='table') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing is none or not existing.is_table or should_full_refresh() -%}
        {%- set build_sql -%}
            {%- if existing is not none %}drop {{ existing.type }} {{ existing }};{% endif %}
            {{ create_table_as(False, target, compiled_code) }}
        {%- endset -%}
    {%- else -%}
        {%- set build_sql -%}
            {{ fail_on_column_drift(target, compiled_code) }};
            delete from {{ target }} where {{ in_partitions() }};
            insert into {{ target }} select * from ({{ compiled_code }});
        {%- endset -%}
    {%- endif -%}

    {%- call statement('main') -%}
        {{ build_sql }}
    {%- endcall -%}

    {% do persist_docs(target, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}


{#- A statement that raises unless the query's columns (from DuckDB's DESCRIBE, which binds without
    running) equal the table's in name, position and type. It runs in the build's own statement: a
    separate query costs a round trip through dbt for every model. -#}
{% macro fail_on_column_drift(target, query) -%}
    with
    query_columns as (
        select column_name, column_type, row_number() over () as position
        from (describe {{ query }})
    ),
    table_columns as (
        select column_name, data_type as column_type, column_index as position
        from duckdb_columns()
        where database_name = '{{ target.database }}'
            and schema_name = '{{ target.schema }}'
            and table_name = '{{ target.identifier }}'
    ),
    drift as (
        select
            coalesce(query_columns.column_name, table_columns.column_name) as column_name,
            coalesce(table_columns.column_type, 'missing') as table_type,
            coalesce(query_columns.column_type, 'missing') as query_type
        from query_columns
        full join table_columns using (position)
        where query_columns.column_name is distinct from table_columns.column_name
            or query_columns.column_type is distinct from table_columns.column_type
    )
    select error(
        '{{ target }} has other columns than its model: '
        || string_agg(column_name || ' (' || table_type || ' -> ' || query_type || ')', ', ')
        || '; rebuild it with --full-refresh'
    )
    from drift
    having count(*) > 0
{%- endmacro %}
