select
    run_id,
    region,
    period,
    connected_realm_id,
    best_ranking,
    first_seen_at,
    last_seen_at
from {{ source('metawatch', 'run_boards') }}
