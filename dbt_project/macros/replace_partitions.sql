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
        {%- do fail_on_column_drift(target, compiled_code) -%}
        {%- set build_sql -%}
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


{#- Raise unless the query's columns (from DuckDB's DESCRIBE, which binds without running) equal
    the table's in name, position and type. -#}
{% macro fail_on_column_drift(target, query) -%}
    {%- set drift_sql -%}
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
        )
        select
            coalesce(query_columns.column_name, table_columns.column_name) as column_name,
            table_columns.column_type as table_type,
            query_columns.column_type as query_type
        from query_columns
        full join table_columns using (position)
        where query_columns.column_name is distinct from table_columns.column_name
            or query_columns.column_type is distinct from table_columns.column_type
    {%- endset -%}
    {%- set drift = run_query(drift_sql) -%}
    {%- if drift.rows | length > 0 -%}
        {%- set changes = [] -%}
        {%- for row in drift.rows -%}
            {%- do changes.append(row[0] ~ " (" ~ row[1] ~ " -> " ~ row[2] ~ ")") -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error(
            target ~ " has other columns than its model: " ~ changes | join(", ")
            ~ "; rebuild it with --full-refresh") }}
    {%- endif -%}
{%- endmacro %}
