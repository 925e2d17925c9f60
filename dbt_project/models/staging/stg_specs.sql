select
    spec_id,
    spec_name,
    class_id,
    class_name,
    role
from {{ source('metawatch', 'ref_specs') }}
