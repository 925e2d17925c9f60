select
    region,
    realm_id,
    connected_realm_id,
    name as realm_name,
    slug as realm_slug
from {{ source('metawatch', 'ref_realms') }}
