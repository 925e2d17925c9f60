with

boards as (
    select * from {{ ref('stg_boards') }}
    where {{ in_partitions() }}
),

listed as (
    select
        period,
        region,
        count(*) as boards_listed,
        count(*) filter (where status = '200') as answered_200,
        count(*) filter (where status = '304') as answered_304,
        count(*) filter (where status = '404') as answered_404,
        count(*) filter (where status = 'error') as failed,
        count(*) filter (where is_full) as full_boards,
        max(fetched_at) as last_fetched_at
    from boards
    group by period, region
),

-- Expected: every connected realm of the region times every dungeon of the period's season.
expected as (
    select
        listed.period,
        listed.region,
        (
            select count(*) from {{ ref('stg_connected_realms') }} as realms
            where realms.region = listed.region
        ) * (
            select count(*)
            from {{ ref('stg_dungeons') }} as dungeons
            inner join {{ ref('stg_seasons') }} as seasons using (season)
            where seasons.region = listed.region
                and listed.period between seasons.first_period and seasons.last_period
        ) as boards_expected
    from listed
)

select
    listed.period,
    listed.region,
    nullif(expected.boards_expected, 0) as boards_expected,
    listed.boards_listed,
    listed.answered_200,
    listed.answered_304,
    listed.answered_404,
    listed.failed,
    listed.full_boards,
    (listed.answered_200 + listed.answered_304 + listed.answered_404)
        / nullif(expected.boards_expected, 0) as answered_share,
    listed.last_fetched_at
from listed
inner join expected using (period, region)
