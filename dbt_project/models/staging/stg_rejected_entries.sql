select
    region,
    period,
    connected_realm_id,
    dungeon_id,
    reason,
    raw as raw_entry
from {{ source('metawatch', 'rejected_entries') }}
