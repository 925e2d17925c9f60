with

-- One row per spec and run (a run with two players of a spec counts once in `runs`), with the
-- players of that spec in the run; spec ids from the run's composition signature.
runs as (
    select period, region, keystone_level, is_timed, string_split(composition, '-') as spec_ids
    from {{ ref('fct_runs') }}
    where {{ in_partitions() }} and composition is not null
),

spec_runs as (
    select period, region, keystone_level, is_timed, spec_key::integer as spec_id,
        len(list_filter(spec_ids, s -> s = spec_key)) as players
    from (select *, unnest(list_distinct(spec_ids)) as spec_key from runs)
),

per_spec as (
    select
        period,
        region,
        spec_id,
        count(*) as runs,
        sum(players) as appearances,
        count(*) filter (where keystone_level < 10) as runs_below_10,
        count(*) filter (where keystone_level between 10 and 14) as runs_10_to_14,
        count(*) filter (where keystone_level between 15 and 19) as runs_15_to_19,
        count(*) filter (where keystone_level >= 20) as runs_20_plus,
        quantile_cont(keystone_level, 0.5) as median_level,
        max(keystone_level) as max_level,
        avg(is_timed::double) as timed_rate
    from spec_runs
    group by all
)

select
    per_spec.period,
    per_spec.region,
    per_spec.spec_id,
    specs.spec_name,
    specs.class_id,
    specs.class_name,
    specs.role,
    per_spec.runs,
    per_spec.appearances,
    per_spec.appearances
        / sum(per_spec.appearances) over (partition by per_spec.period, per_spec.region, specs.role)
        as role_share,
    per_spec.runs_below_10,
    per_spec.runs_10_to_14,
    per_spec.runs_15_to_19,
    per_spec.runs_20_plus,
    per_spec.median_level,
    per_spec.max_level,
    per_spec.timed_rate
from per_spec
left join {{ ref('stg_specs') }} as specs using (spec_id)
