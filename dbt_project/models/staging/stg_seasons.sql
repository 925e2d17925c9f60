select
    season,
    region,
    "start" as starts_at,
    "end" as ends_at,
    first_period,
    last_period
from {{ source('metawatch', 'ref_seasons') }}
