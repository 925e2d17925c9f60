select
    region,
    period,
    connected_realm_id,
    dungeon_id,
    status,
    entries,
    is_full,
    last_modified as last_modified_at,
    fetched_at
from {{ source('metawatch', 'boards') }}
