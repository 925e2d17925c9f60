select
    run_id,
    region,
    period,
    dungeon_id,
    keystone_level,
    duration_ms,
    completed_at,
    mythic_rating,
    first_seen_at,
    last_seen_at
from {{ source('metawatch', 'runs') }}
