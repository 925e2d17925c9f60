"""The world: determinism, truth equal to what was served, cross-realm listings, top N, growth, resets."""

from __future__ import annotations

import statistics
from datetime import timedelta

from metawatch_dagster.run_identity import run_id
from metawatch_dagster.sandbox.catalog import SPECS, period_start


def _all_boards(sb, client, region, period):
    bodies = {}
    for cr in sb.world.connected_realms(region):
        for dungeon in sb.world.season_dungeons:
            reply = client.board(region, cr.id, dungeon.id, period)
            assert reply.status_code in (200, 404)
            if reply.status_code == 200:
                bodies[(cr.id, dungeon.id)] = reply
    return bodies


def _parsed(region, period, bodies):
    """runs, members and best listings read back from served bodies, the way a loader must."""
    runs, members, listings = set(), set(), {}
    for (cr, dungeon), reply in bodies.items():
        for group in reply.json()["leading_groups"]:
            pairs = [(m["profile"]["realm"]["id"], m["profile"]["id"]) for m in group["members"]]
            rid = run_id(
                region,
                period,
                dungeon,
                group["completed_timestamp"],
                group["duration"],
                group["keystone_level"],
                pairs,
            )
            runs.add(
                (
                    rid,
                    dungeon,
                    group["keystone_level"],
                    group["duration"],
                    group["mythic_rating"]["rating"],
                )
            )
            for m in group["members"]:
                members.add(
                    (
                        rid,
                        m["profile"]["realm"]["id"],
                        m["profile"]["id"],
                        m["specialization"]["id"],
                    )
                )
            listings[(rid, cr)] = min(listings.get((rid, cr), 10**9), group["ranking"])
    return runs, members, listings


def _truth_sets(truth):
    return truth.run_rows(), truth.member_rows(), dict(truth.listings)


def test_same_seed_same_bytes_other_seed_other_world(make_sandbox, make_client):
    first, second, other = (make_sandbox(), make_sandbox(), make_sandbox(seed=8))
    cr = first.world.connected_realms("us")[0].id
    period = first.current_period("us")
    a, b = make_client(first), make_client(second)
    for path in ("/data/wow/connected-realm/index", f"/data/wow/connected-realm/{cr}"):
        assert a.get("us", path).content == b.get("us", path).content
    assert a.board("us", cr, 503, period).content == b.board("us", cr, 503, period).content
    assert [c.id for c in other.world.connected_realms("us")] != [
        c.id for c in first.world.connected_realms("us")
    ]


def test_truth_is_exactly_what_was_served(sandbox, client):
    region, period = "us", sandbox.current_period("us")
    assert sandbox.truth(region, period).runs == {}
    bodies = _all_boards(sandbox, client, region, period)
    sandbox.clock.advance(timedelta(days=1))
    later = _all_boards(sandbox, client, region, period)
    runs, members, listings = _parsed(region, period, bodies)
    runs2, members2, listings2 = _parsed(region, period, later)
    expected_listings = dict(listings)
    for key, ranking in listings2.items():
        expected_listings[key] = min(ranking, expected_listings.get(key, ranking))
    assert len(bodies) > 20 and runs2 - runs, "a day later the boards show new runs"
    assert _truth_sets(sandbox.truth(region, period)) == (
        runs | runs2,
        members | members2,
        expected_listings,
    )
    assert sandbox.truth("eu", period).runs == {}


def test_a_run_is_listed_on_the_board_of_every_members_connected_realm(make_sandbox):
    sb = make_sandbox(board_limit=500, runs_per_board_week=40)  # boards never fill: every run shows
    region, period = "us", sb.current_period("us")
    realm_to_cr = sb.world.population(region).realm_to_connected
    truth = sb.board_truth(region, period)
    listed: dict[str, set[int]] = {}
    for rid, cr in truth.listings:
        listed.setdefault(rid, set()).add(cr)
    cross_realm = 0
    for rid, run in truth.runs.items():
        assert len({(m.realm_id, m.character_id) for m in run.members}) == 5
        crs = {realm_to_cr[m.realm_id] for m in run.members}
        holes = {cr for cr in crs if sb.world.is_hole(region, period, run.dungeon_id, cr)}
        assert listed[rid] == crs - holes
        cross_realm += len(crs) > 1
    assert cross_realm > len(truth.runs) // 10


def test_boards_keep_the_top_n_in_order(sandbox, client):
    cr = sandbox.world.connected_realms("us")[0].id
    groups = client.board("us", cr, 503, sandbox.current_period("us")).json()["leading_groups"]
    assert [g["ranking"] for g in groups] == list(range(1, 21))
    order = [(-g["keystone_level"], g["duration"]) for g in groups]
    assert order == sorted(order)
    assert all(len(g["members"]) == 5 for g in groups)


def test_boards_grow_and_runs_fall_out_as_the_clock_moves(sandbox, client):
    region, period = "us", sandbox.current_period("us")
    sandbox.clock.set(period_start(region, period) + timedelta(hours=30))
    early = sandbox.board_truth(region, period)
    cr = sandbox.world.connected_realms(region)[0].id
    first = client.board(region, cr, 503, period)
    sandbox.clock.advance(timedelta(days=4))
    late = sandbox.board_truth(region, period)
    second = client.board(region, cr, 503, period)
    assert len(late.listings) >= len(early.listings)
    dropped = set(early.runs) - set(late.runs)
    assert dropped, "better runs pushed some out of the top 20"
    assert second.headers["Last-Modified"] != first.headers["Last-Modified"]
    assert first.json()["leading_groups"] != second.json()["leading_groups"]


def test_each_region_resets_at_its_own_hour(sandbox, client):
    period = sandbox.current_period("us")
    sandbox.clock.set(period_start("us", period + 1) + timedelta(hours=1))
    assert sandbox.current_period("us") == period + 1
    assert sandbox.current_period("eu") == period
    assert (
        client.get("us", "/data/wow/mythic-keystone/period/index").json()["current_period"]["id"]
        == period + 1
    )
    assert (
        client.get("eu", "/data/wow/mythic-keystone/period/index").json()["current_period"]["id"]
        == period
    )
    eu_cr = sandbox.world.connected_realms("eu")[0].id
    assert client.get("eu", f"/data/wow/mythic-keystone/period/{period + 1}").status_code == 404
    assert client.board("eu", eu_cr, 503, period + 1).status_code == 404
    index = client.get(
        "us",
        f"/data/wow/connected-realm/{sandbox.world.connected_realms('us')[0].id}/mythic-leaderboard/index",
    )
    assert all(
        f"/period/{period + 1}?" in b["key"]["href"] for b in index.json()["current_leaderboards"]
    )
    sandbox.clock.set(period_start("eu", period + 1))
    assert sandbox.current_period("eu") == period + 1
    assert [p for p, _, _ in sandbox.periods("eu")][-1] == period + 1


def test_stronger_specs_reach_higher_keys_and_time_more_of_them(make_sandbox):
    sb = make_sandbox(regions=("us",), board_limit=500, runs_per_board_week=900)
    region, period = "us", sb.current_period("us") - 1
    timers = {d.id: d.timer_ms for d in sb.world.season_dungeons}
    played: dict[int, list[tuple[int, bool]]] = {}
    for run in sb.board_truth(region, period).runs.values():
        timed = run.duration_ms <= timers[run.dungeon_id]
        for member in run.members:
            played.setdefault(member.spec_id, []).append((run.keystone_level, timed))
    meta = sb.world.meta(period).by_spec_id()
    common = sorted((s for s in played if len(played[s]) >= 100), key=lambda s: meta[s][0])
    weak = [outcome for s in common[:3] for outcome in played[s]]
    strong = [outcome for s in common[-3:] for outcome in played[s]]

    def levels(outcomes):
        return [level for level, _ in outcomes]

    def timed_rate(outcomes):
        return sum(timed for _, timed in outcomes) / len(outcomes)

    assert statistics.median(levels(strong)) > statistics.median(levels(weak))
    assert statistics.fmean(levels(strong)) >= statistics.fmean(levels(weak)) + 0.8
    assert timed_rate(strong) >= timed_rate(weak) + 0.1


def test_popularity_follows_strength_only_in_part(sandbox):
    meta = sandbox.world.meta(sandbox.current_period("us"))
    specs = meta.by_spec_id()  # spec id -> (strength, share of its role's picks)
    uniform = {spec.id: 1 / sum(other.role == spec.role for other in SPECS) for spec in SPECS}
    strengths = sorted(strength for strength, _ in specs.values())
    top_third, top_quarter = strengths[-len(strengths) // 3], strengths[-len(strengths) // 4]
    assert any(
        share >= 2 * uniform[s] and strength < top_third for s, (strength, share) in specs.items()
    ), "a popular, average spec"
    assert any(
        share < uniform[s] and strength >= top_quarter for s, (strength, share) in specs.items()
    ), "a rare, strong spec"
    damage = [s.id for s in SPECS if s.role == "DAMAGE"]
    by_strength = sorted(damage, key=lambda s: specs[s][0])
    by_share = sorted(damage, key=lambda s: specs[s][1])
    agreement = statistics.correlation(
        [by_strength.index(s) for s in damage], [by_share.index(s) for s in damage]
    )
    assert 0.3 < agreement < 0.95, "rank correlation of strength and popularity"
