select
    region,
    period,
    "start" as starts_at,
    "end" as ends_at
from {{ source('metawatch', 'ref_periods') }}
