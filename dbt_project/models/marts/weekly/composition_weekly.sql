with

runs as (
    select * from {{ ref('fct_runs') }}
    where {{ in_partitions() }} and member_count > 0
),

compositions as (
    select
        period,
        region,
        composition,
        any_value(tank_spec_id) as tank_spec_id,
        any_value(healer_spec_id) as healer_spec_id,
        any_value(damage_spec_ids) as damage_spec_ids,
        count(*) as runs,
        count(*) / sum(count(*)) over (partition by period, region) as run_share,
        avg(keystone_level) as mean_level,
        max(keystone_level) as max_level,
        avg(is_timed::double) as timed_rate,
        row_number() over (
            partition by period, region order by count(*) desc, composition
        ) as popularity_rank
    from runs
    group by period, region, composition
    qualify popularity_rank <= {{ var('top_compositions', 100) | int }}
),

-- "Blood Death Knight / Restoration Druid / ..." in role order (tank, healer, damage), then spec id.
labels as (
    select
        compositions.composition,
        string_agg(
            specs.spec_name || ' ' || specs.class_name, ' / '
            order by
                case specs.role when 'TANK' then 1 when 'HEALER' then 2 else 3 end,
                specs.spec_id
        ) as label
    from (
        select composition, unnest(string_split(composition, '-'))::integer as spec_id
        from (select distinct composition from compositions)
    ) as compositions
    left join {{ ref('stg_specs') }} as specs using (spec_id)
    group by compositions.composition
)

select
    compositions.period,
    compositions.region,
    compositions.popularity_rank,
    compositions.composition,
    labels.label,
    compositions.tank_spec_id,
    compositions.healer_spec_id,
    compositions.damage_spec_ids,
    compositions.runs,
    compositions.run_share,
    compositions.mean_level,
    compositions.max_level,
    compositions.timed_rate
from compositions
left join labels using (composition)
