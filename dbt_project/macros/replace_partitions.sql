{#-
    Materialization of the weekly marts: replace exactly the partitions of this run (delete them,
    insert the model's rows straight from its query) in one transaction, leaving every other
    partition untouched. A partition that has lost all its rows is emptied.

    Unlike dbt's incremental materialization, a whole replace stages no temporary table (for
    fct_runs that copy cost as much as the query). A table that does not exist yet, a --full-refresh
    or a view in its place is (re)built whole from the query. The model's columns must equal the
    table's, names, order and types: any drift fails the model, and a --full-refresh rebuilds it.

    A model with a `unique_key` is replaced by difference where it can (see replacing_changed_rows):
    its query then gives only the rows that are new or changed, and the other rows stay.
-#}
{% materialization replace_partitions, adapter='duckdb' %}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set unique_key = config.get('unique_key') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing is none or not existing.is_table or should_full_refresh() -%}
        {%- set build_sql -%}
            {%- if existing is not none %}drop {{ existing.type }} {{ existing }};{% endif %}
            {{ create_table_as(False, target, compiled_code) }}
            {%- if unique_key %};
                {{ record_partition_versions(target, every_partition=True) }}
            {%- endif %}
        {%- endset -%}
    {%- elif replacing_changed_rows() -%}
        {%- set changes = make_temp_relation(target, '__changes').identifier -%}
        {%- set build_sql = replace_changed_rows(target, compiled_code, unique_key, changes) -%}
    {%- else -%}
        {%- set build_sql -%}
            {{ fail_on_column_drift(target, compiled_code) }};
            delete from {{ target }} where {{ in_partitions() }};
            insert into {{ target }} select * from ({{ compiled_code }})
            {%- if unique_key %};
                {{ record_partition_versions(target) }}
            {%- endif %}
        {%- endset -%}
    {%- endif -%}

    {%- call statement('main', fetch_result=changes is defined) -%}
        {{ build_sql }}
    {%- endcall -%}
    {%- if changes is defined -%}
        {%- set written, kept = load_result('main').table.rows[0] -%}
        {% do run_query('drop table ' ~ changes) %}
        {{ log(model.name ~ ': ' ~ written ~ ' rows new or changed written, ' ~ kept
               ~ ' unchanged rows kept', info=True) }}
    {%- endif -%}

    {% do persist_docs(target, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do adapter.commit() %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target]}) }}
{% endmaterialization %}


{#- True when the model is replaced by difference: it has a `unique_key`, its table exists, this is
    no --full-refresh, and every partition of the run was last built by the current version of the
    model and its reference inputs. The model's query then gives only the rows to write (see
    replace_changed_rows); otherwise its partitions are replaced whole. Called by the model while
    compiling and by the materialization, which see the same tables. -#}
{% macro replacing_changed_rows() -%}
    {%- if not execute or not config.get('unique_key') or should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set partitions = run_partitions() -%}
    {%- set existing = load_relation(this) -%}
    {%- set versions = load_relation(partition_versions_relation(this)) -%}
    {%- if partitions | length == 0 or existing is none or not existing.is_table or versions is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set recorded -%}
        select count(*) from {{ versions }}
        where model = '{{ model.name }}' and version = {{ partition_version() }} and {{ in_partitions() }}
    {%- endset -%}
    {{ return(run_query(recorded).columns[0].values()[0] == partitions | length) }}
{%- endmacro %}


{#- Replace the run's partitions by difference, for a model configured with:
    - `unique_key`: the column naming a row;
    - `keys_from`: the model whose keys are the rows that should exist (a key gone from it is deleted);
    - `reference_inputs`: the small models that can change any row (timers, roles): a partition
      built on other reference rows, or by other SQL, is replaced whole (see partition_version).

    The query runs first and its rows, new or changed, are staged in the temp table `changes`; they
    replace the rows of their keys, and rows whose key is gone are deleted. Only those rows are
    written: a reload that moves a few runs rewrites those runs, not the week. The last statement
    gives the rows written and the rows kept. -#}
{% macro replace_changed_rows(target, query, unique_key, changes) -%}
    {{ fail_on_column_drift(target, query) }};
    create or replace temp table {{ changes }} as select * from ({{ query }});
    delete from {{ target }} where {{ in_partitions() }} and (
        {{ unique_key }} in (select {{ unique_key }} from {{ changes }})
        or {{ unique_key }} not in (
            select {{ unique_key }} from {{ ref(config.require('keys_from')) }}
            where {{ in_partitions() }}
        )
    );
    insert into {{ target }} select * from {{ changes }};
    {{ record_partition_versions(target) }};
    select written, total - written as kept
    from (select count(*) as written from {{ changes }})
    cross join (select count(*) as total from {{ target }} where {{ in_partitions() }})
{%- endmacro %}


{#- Which version of the model and its reference inputs built each partition of a mart with a
    `unique_key` (one row per model and partition). -#}
{% macro partition_versions_relation(relation) -%}
    {{ return(api.Relation.create(database=relation.database, schema=relation.schema,
                                  identifier='partition_versions')) }}
{%- endmacro %}

{#- md5 of the model's SQL checksum and every row of its reference inputs, each input in its own
    place (an empty input hashes as an empty string). -#}
{% macro partition_version() -%}
    md5(concat_ws('|', '{{ model.checksum.checksum }}'
    {%- for name in config.require('reference_inputs') -%}
        , coalesce((select string_agg(r::varchar, ',' order by r::varchar) from {{ ref(name) }} as r), '')
    {%- endfor -%}
    ))
{%- endmacro %}

{#- The run's partitions (every partition after a whole build) are recorded as built by this
    version. A partition without rows records nothing: its next build replaces it whole. -#}
{% macro record_partition_versions(target, every_partition=False) -%}
    {%- set versions = partition_versions_relation(target) -%}
    {%- set partitions = 'true' if every_partition else in_partitions() -%}
    create table if not exists {{ versions }} (
        model varchar not null, period integer not null, region varchar not null,
        version varchar not null
    );
    delete from {{ versions }} where model = '{{ model.name }}' and {{ partitions }};
    insert into {{ versions }}
    select '{{ model.name }}', period, region, version
    from (select distinct period, region from {{ target }} where {{ partitions }})
    cross join (select {{ partition_version() }} as version)
{%- endmacro %}


{#- A statement that raises unless the query's columns (from DuckDB's DESCRIBE, which binds without
    running) equal the table's in name, position and type. It runs in the build's own statement: a
    separate query costs a round trip through dbt for every model. The table's columns come from
    pragma_table_info, which looks up that table alone: duckdb_columns() lists the whole catalog,
    binding every view, and cost 6 ms per model. -#}
{% macro fail_on_column_drift(target, query) -%}
    with
    query_columns as (
        select column_name, column_type, row_number() over () as position
        from (describe {{ query }})
    ),
    table_columns as (
        select name as column_name, type as column_type, cid + 1 as position
        from pragma_table_info('{{ target }}')
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
