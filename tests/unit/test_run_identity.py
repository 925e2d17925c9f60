import hashlib

from metawatch_dagster.run_identity import run_id, run_id_text


def test_members_sorted_numerically_by_realm_then_character():
    text = run_id_text(
        "eu", 946, 199, 1707921171000, 3657840, 32, [(1305, 9), (628, 20), (1305, 10)]
    )
    assert text == "eu|946|199|1707921171000|3657840|32|628:20,1305:9,1305:10"


def test_run_id_is_md5_hex_of_the_text():
    members = [(1, 142614719), (1, 141688406)]
    expected = hashlib.md5(
        run_id_text("us", 663, 244, 1537235666000, 2352729, 12, members).encode()
    ).hexdigest()
    assert run_id("us", 663, 244, 1537235666000, 2352729, 12, members) == expected
    assert run_id("us", 663, 244, 1537235666000, 2352729, 12, reversed(members)) == expected
