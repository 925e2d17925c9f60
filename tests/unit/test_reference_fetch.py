"""Reference details are fetched several at a time and written in the API's order."""

from __future__ import annotations

import threading

import pytest

from metawatch_dagster.reference import REFERENCE_WORKERS, fetch_each


def test_details_are_fetched_together_and_kept_in_the_ids_order() -> None:
    # Each fetch waits until four are in flight: one at a time would time out at the barrier.
    in_flight = threading.Barrier(4, timeout=5)

    def detail(realm_id: int) -> str:
        in_flight.wait()
        return f"realm {realm_id}"

    ids = [31, 7, 1305, 2, 99, 64, 5, 11]
    assert REFERENCE_WORKERS >= 4
    assert fetch_each(detail, ids) == {i: f"realm {i}" for i in ids}
    assert list(fetch_each(str, ids)) == ids


def test_a_failed_detail_fails_the_fetch() -> None:
    def detail(realm_id: int) -> str:
        if realm_id == 7:
            raise RuntimeError("503 after retries")
        return str(realm_id)

    with pytest.raises(RuntimeError, match="503 after retries"):
        fetch_each(detail, [1, 7, 9])
