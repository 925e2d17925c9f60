with

runs as (
    select * from {{ ref('stg_runs') }}
    where {{ in_partitions() }}
),

members as (
    select members.run_id, members.spec_id, specs.role
    from {{ ref('stg_run_members') }} as members
    left join {{ ref('stg_specs') }} as specs using (spec_id)
    where {{ in_partitions('members.period', 'members.region') }}
),

rosters as (
    select
        run_id,
        count(*) as member_count,
        count(*) filter (where role = 'TANK') as tank_count,
        count(*) filter (where role = 'HEALER') as healer_count,
        count(*) filter (where role = 'DAMAGE') as damage_count,
        list_sort(list(spec_id)) as spec_ids,
        min(spec_id) filter (where role = 'TANK') as tank_spec_id,
        min(spec_id) filter (where role = 'HEALER') as healer_spec_id,
        list_sort(list(spec_id) filter (where role = 'DAMAGE')) as damage_spec_ids
    from members
    group by run_id
),

runs_in_season as (
    select runs.*, seasons.season
    from runs
    left join {{ ref('stg_seasons') }} as seasons
        on seasons.region = runs.region
        and runs.period between seasons.first_period and seasons.last_period
),

-- The season's own timers; a dungeon recorded only in another season falls back to the newest one.
runs_with_timer as (
    select
        runs.*,
        dungeons.season as timer_season,
        dungeons.dungeon_name,
        dungeons.timer_ms,
        dungeons.upgrade_2_ms,
        dungeons.upgrade_3_ms
    from runs_in_season as runs
    left join {{ ref('stg_dungeons') }} as dungeons on dungeons.dungeon_id = runs.dungeon_id
    qualify row_number() over (
        partition by runs.run_id
        order by (dungeons.season = runs.season) desc nulls last, dungeons.season desc nulls last
    ) = 1
)

select
    runs.run_id,
    runs.region,
    runs.period,
    runs.season,
    runs.dungeon_id,
    runs.dungeon_name,
    runs.keystone_level,
    runs.duration_ms,
    runs.timer_ms,
    runs.timer_season,
    runs.duration_ms <= runs.timer_ms as is_timed,
    case
        when runs.timer_ms is null then null
        when runs.duration_ms <= runs.upgrade_3_ms then 3
        when runs.duration_ms <= runs.upgrade_2_ms then 2
        when runs.duration_ms <= runs.timer_ms then 1
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
from runs_with_timer as runs
left join rosters using (run_id)
