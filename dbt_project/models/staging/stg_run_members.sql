select
    run_id,
    region,
    period,
    realm_id,
    character_id,
    character_name,
    name_unknown as is_name_unknown,
    spec_id,
    faction
from {{ source('metawatch', 'run_members') }}
