select
    region,
    connected_realm_id,
    realm_count
from {{ source('metawatch', 'ref_connected_realms') }}
