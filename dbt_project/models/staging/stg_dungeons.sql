select
    season,
    dungeon_id,
    name as dungeon_name,
    timer_ms,
    upgrade_2_ms,
    upgrade_3_ms,
    source as timer_source
from {{ source('metawatch', 'ref_dungeons') }}
