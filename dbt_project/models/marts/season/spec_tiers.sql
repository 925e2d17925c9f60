{#- The method and why: see spec_tiers.md. -#}
{%- set min_characters = var('tier_min_characters', 30) | int -%}
{%- set z = var('tier_z', 1.645) | float -%}

with

-- One observation per player and run: a character playing the spec in a run at a key level.
appearances as (
    select
        runs.season,
        runs.region,
        runs.run_id,
        runs.keystone_level,
        members.spec_id,
        specs.role,
        members.region || ':' || members.realm_id || ':' || members.character_id as character_key
    from {{ ref('fct_runs') }} as runs
    inner join {{ ref('stg_run_members') }} as members using (run_id)
    inner join {{ ref('stg_specs') }} as specs using (spec_id)
    where runs.season is not null
),

scoped as (
    select season, region as scope, * exclude (season) from appearances
    union all
    select season, 'all' as scope, * exclude (season) from appearances
),

per_spec as (
    select
        season,
        scope,
        role,
        spec_id,
        count(*) as appearances,
        count(distinct run_id) as runs,
        count(distinct character_key) as characters,
        avg(keystone_level) as mean_level,
        quantile_cont(keystone_level, 0.25) as level_q1,
        quantile_cont(keystone_level, 0.5) as level_median,
        quantile_cont(keystone_level, 0.75) as level_q3
    from scoped
    group by all
),

per_character as (
    select season, scope, role, spec_id, character_key,
        sum(keystone_level) as level_sum,
        count(*) as appearances
    from scoped
    group by all
),

-- Cluster-robust variance of the mean, clusters = characters (CR1: G / (G - 1) correction).
mean_variance as (
    select
        per_spec.season,
        per_spec.scope,
        per_spec.spec_id,
        sum(power(
            per_character.level_sum - per_character.appearances * per_spec.mean_level, 2
        )) / power(any_value(per_spec.appearances), 2)
            * any_value(per_spec.characters) / nullif(any_value(per_spec.characters) - 1, 0)
            as variance
    from per_spec
    inner join per_character using (season, scope, role, spec_id)
    group by per_spec.season, per_spec.scope, per_spec.spec_id
),

bounded as (
    select
        per_spec.*,
        sqrt(mean_variance.variance) as standard_error,
        per_spec.mean_level - {{ z }} * sqrt(mean_variance.variance) as lower_bound,
        per_spec.characters >= {{ min_characters }} as is_rated
    from per_spec
    inner join mean_variance using (season, scope, spec_id)
),

ranked as (
    select
        *,
        max(lower_bound) filter (where is_rated) over (partition by season, scope, role)
            - lower_bound as levels_behind_best
    from bounded
)

select
    ranked.season,
    ranked.scope,
    ranked.role,
    ranked.spec_id,
    specs.spec_name,
    specs.class_name,
    ranked.runs,
    ranked.appearances,
    ranked.characters,
    ranked.level_q1,
    ranked.level_median,
    ranked.level_q3,
    ranked.mean_level,
    ranked.standard_error,
    ranked.lower_bound,
    ranked.is_rated,
    case
        when not ranked.is_rated or ranked.lower_bound is null then null
        when ranked.levels_behind_best <= 0.25 then 'S'
        when ranked.levels_behind_best <= 0.5 then 'A'
        when ranked.levels_behind_best <= 1.0 then 'B'
        when ranked.levels_behind_best <= 1.5 then 'C'
        when ranked.levels_behind_best <= 2.0 then 'D'
        else 'F'
    end as tier
from ranked
left join {{ ref('stg_specs') }} as specs using (spec_id)
