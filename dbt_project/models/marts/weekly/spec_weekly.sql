with

-- Spec ids from each run's composition signature (every member's spec, sorted).
runs as (
    select period, region, keystone_level, is_timed, string_split(composition, '-') as spec_ids
    from {{ ref('fct_runs') }}
    where {{ in_partitions() }} and composition is not null
),

-- One row per player. A run's composition is sorted, so a player is the first of their spec in the
-- run exactly when the spec differs from the previous player's: per-run counts take those rows, and
-- one pass counts both (a run with two players of a spec counts once in `runs`, twice in
-- `appearances`), without building a distinct list per run.
players as (
    select
        period,
        region,
        keystone_level,
        is_timed,
        spec_key,
        position = 1 or spec_ids[position - 1] <> spec_key as first_of_spec
    from (
        select
            period,
            region,
            keystone_level,
            is_timed,
            spec_ids,
            generate_subscripts(spec_ids, 1) as position,
            unnest(spec_ids) as spec_key
        from runs
    )
),

-- appearances is HUGEINT, the type of the sum this count replaced.
per_spec as (
    select
        period,
        region,
        spec_key::integer as spec_id,
        count(*) filter (where first_of_spec) as runs,
        count(*)::hugeint as appearances,
        count(*) filter (where first_of_spec and keystone_level < 10) as runs_below_10,
        count(*) filter (where first_of_spec and keystone_level between 10 and 14) as runs_10_to_14,
        count(*) filter (where first_of_spec and keystone_level between 15 and 19) as runs_15_to_19,
        count(*) filter (where first_of_spec and keystone_level >= 20) as runs_20_plus,
        quantile_cont(keystone_level, 0.5) filter (where first_of_spec) as median_level,
        max(keystone_level) as max_level,
        avg(is_timed::double) filter (where first_of_spec) as timed_rate
    from players
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
