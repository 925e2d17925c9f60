with

-- Spec ids from each run's composition signature (every member's spec, sorted).
runs as (
    select period, region, keystone_level, is_timed, string_split(composition, '-') as spec_ids
    from {{ ref('fct_runs') }}
    where {{ in_partitions() }} and composition is not null
),

-- One row per spec and run: a run with two players of a spec counts once in `runs`.
per_run as (
    select
        period,
        region,
        spec_key::integer as spec_id,
        count(*) as runs,
        count(*) filter (where keystone_level < 10) as runs_below_10,
        count(*) filter (where keystone_level between 10 and 14) as runs_10_to_14,
        count(*) filter (where keystone_level between 15 and 19) as runs_15_to_19,
        count(*) filter (where keystone_level >= 20) as runs_20_plus,
        quantile_cont(keystone_level, 0.5) as median_level,
        max(keystone_level) as max_level,
        avg(is_timed::double) as timed_rate
    from (
        select period, region, keystone_level, is_timed, unnest(list_distinct(spec_ids)) as spec_key
        from runs
    )
    group by all
),

-- One row per player: cheaper than counting each spec's players inside every run. HUGEINT, the
-- type of the sum this count replaced.
per_player as (
    select period, region, spec_key::integer as spec_id, count(*)::hugeint as appearances
    from (select period, region, unnest(spec_ids) as spec_key from runs)
    group by all
),

per_spec as (
    select * from per_run inner join per_player using (period, region, spec_id)
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
