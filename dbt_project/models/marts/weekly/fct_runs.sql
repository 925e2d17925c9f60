{{ config(
    unique_key='run_id',
    keys_from='stg_runs',
    reference_inputs=['stg_specs', 'stg_seasons', 'stg_dungeons'],
) }}
{%- set by_difference = replacing_changed_rows() %}

with

partition_runs as (
    select
        run_id, region, period, dungeon_id, keystone_level, duration_ms, completed_at, mythic_rating
    from {{ ref('stg_runs') }}
    where {{ in_partitions() }}
),
{% if by_difference %}
-- A rebuild computes only the runs new to the table or whose row would change: another field,
-- rating or roster (compared as its composition, the sorted spec ids rosters gives). Timers and
-- roles need no comparison: a partition built on other ones is replaced whole (see
-- replacing_changed_rows).
built as (
    select
        run_id, region, period, dungeon_id, keystone_level, duration_ms, completed_at,
        mythic_rating, composition
    from {{ this }}
    where {{ in_partitions() }}
),

compositions as (
    select run_id, array_to_string(list(spec_id order by spec_id), '-') as composition
    from {{ ref('stg_run_members') }}
    where {{ in_partitions() }}
    group by run_id
),

runs as (
    select partition_runs.*
    from partition_runs
    left join compositions using (run_id)
    anti join built
        on built.run_id = partition_runs.run_id
        and built.dungeon_id = partition_runs.dungeon_id
        and built.keystone_level = partition_runs.keystone_level
        and built.duration_ms = partition_runs.duration_ms
        and built.completed_at = partition_runs.completed_at
        and built.mythic_rating is not distinct from partition_runs.mythic_rating
        and built.composition is not distinct from compositions.composition
),
{% else %}
runs as (select * from partition_runs),
{% endif %}

-- Lists ordered inside the aggregate: cheaper than sorting each run's list afterwards.
rosters as (
    select
        members.run_id,
        count(*) as member_count,
        count(*) filter (where roles.role = 'TANK') as tank_count,
        count(*) filter (where roles.role = 'HEALER') as healer_count,
        count(*) filter (where roles.role = 'DAMAGE') as damage_count,
        list(members.spec_id order by members.spec_id) as spec_ids,
        min(members.spec_id) filter (where roles.role = 'TANK') as tank_spec_id,
        min(members.spec_id) filter (where roles.role = 'HEALER') as healer_spec_id,
        list(members.spec_id order by members.spec_id) filter (where roles.role = 'DAMAGE')
            as damage_spec_ids
    from {{ ref('stg_run_members') }} as members
    left join {{ ref('stg_specs') }} as roles using (spec_id)
    where {{ in_partitions('members.period', 'members.region') }}
        {%- if by_difference %} and members.run_id in (select run_id from runs){% endif %}
    group by members.run_id
),

-- The timer is resolved once per (period, region, dungeon) on the small tables, then joined to the runs.
partition_dungeons as (
    select distinct period, region, dungeon_id from runs
),

partition_seasons as (
    select keys.period, keys.region, keys.dungeon_id, seasons.season
    from partition_dungeons as keys
    left join {{ ref('stg_seasons') }} as seasons
        on seasons.region = keys.region
        and keys.period between seasons.first_period and seasons.last_period
),

-- The season's own timers; a dungeon recorded only in another season falls back to the newest one.
timers as (
    select
        keys.period,
        keys.region,
        keys.dungeon_id,
        keys.season,
        dungeons.season as timer_season,
        dungeons.dungeon_name,
        dungeons.timer_ms,
        dungeons.upgrade_2_ms,
        dungeons.upgrade_3_ms
    from partition_seasons as keys
    left join {{ ref('stg_dungeons') }} as dungeons on dungeons.dungeon_id = keys.dungeon_id
    qualify row_number() over (
        partition by keys.period, keys.region, keys.dungeon_id
        order by (dungeons.season = keys.season) desc nulls last, dungeons.season desc nulls last
    ) = 1
)

select
    runs.run_id,
    runs.region,
    runs.period,
    timers.season,
    runs.dungeon_id,
    timers.dungeon_name,
    runs.keystone_level,
    runs.duration_ms,
    timers.timer_ms,
    timers.timer_season,
    runs.duration_ms <= timers.timer_ms as is_timed,
    case
        when timers.timer_ms is null then null
        when runs.duration_ms <= timers.upgrade_3_ms then 3
        when runs.duration_ms <= timers.upgrade_2_ms then 2
        when runs.duration_ms <= timers.timer_ms then 1
        else 0
    end as upgrade_level,
    runs.completed_at,
    runs.mythic_rating,
    coalesce(rosters.member_count, 0) as member_count,
    coalesce(rosters.tank_count, 0) as tank_count,
    coalesce(rosters.healer_count, 0) as healer_count,
    coalesce(rosters.damage_count, 0) as damage_count,
    array_to_string(rosters.spec_ids, '-') as composition,
    rosters.tank_spec_id,
    rosters.healer_spec_id,
    coalesce(rosters.damage_spec_ids, []) as damage_spec_ids
from runs
left join timers using (period, region, dungeon_id)
left join rosters using (run_id)
