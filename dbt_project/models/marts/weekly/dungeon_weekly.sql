select
    period,
    region,
    dungeon_id,
    any_value(dungeon_name) as dungeon_name,
    any_value(timer_ms) as timer_ms,
    count(*) as runs,
    count(*) filter (where is_timed) as timed_runs,
    avg(is_timed::double) as timed_rate,
    quantile_cont(duration_ms::double / timer_ms, 0.5) as median_timer_share,
    max(keystone_level) as max_level,
    max(keystone_level) filter (where is_timed) as max_timed_level
from {{ ref('fct_runs') }}
where {{ in_partitions() }}
group by period, region, dungeon_id
