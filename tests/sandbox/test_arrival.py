"""Arrival times from the kernel's receive stamps (see metawatch_dagster/sandbox/arrival.py)."""

from __future__ import annotations

import io
import socket
import struct
import sys
import time

import pytest

from metawatch_dagster.sandbox.arrival import (
    MAX_AGE_S,
    SO_TIMESTAMPNS,
    StampedSocketReader,
    age_of_stamp,
    stamp_arrivals,
)

# struct timespec as Linux sends it with a receive stamp: time_t seconds, long nanoseconds
TIMESPEC = struct.Struct("@ll")


def _stamp(moment: float) -> list[tuple[int, int, bytes]]:
    """A read's control messages holding the kernel's receive stamp for `moment` (wall clock)."""
    timespec = TIMESPEC.pack(int(moment), int(moment % 1 * 1e9))
    return [(socket.SOL_SOCKET, SO_TIMESTAMPNS, timespec)]


def test_age_of_a_stamp_is_the_time_since_it_and_never_negative_or_beyond_the_cap():
    assert age_of_stamp(_stamp(time.time() - 0.25)) == pytest.approx(0.25, abs=0.05)
    assert age_of_stamp(_stamp(time.time() + 10)) == 0.0
    assert age_of_stamp(_stamp(time.time() - 3600)) == MAX_AGE_S
    assert age_of_stamp([]) == 0.0


@pytest.mark.skipif(sys.platform != "linux", reason="SO_TIMESTAMPNS is Linux's")
def test_bytes_read_late_carry_the_time_they_arrived():
    with socket.create_server(("127.0.0.1", 0)) as server:
        sender = socket.create_connection(server.getsockname())
        receiver, _ = server.accept()
        with sender, receiver:
            assert stamp_arrivals(receiver)
            _wait_until_stamped(sender, receiver)
            reader = StampedSocketReader(receiver)
            lines = io.BufferedReader(reader)
            sent_at = time.monotonic()
            sender.sendall(b"GET / HTTP/1.1\r\n")
            time.sleep(0.3)
            assert lines.readline() == b"GET / HTTP/1.1\r\n"
            assert reader.arrived_at == pytest.approx(sent_at, abs=0.05)


def _wait_until_stamped(sender: socket.socket, receiver: socket.socket) -> None:
    """Linux turns receive stamps on for the whole host a moment after the first socket asks (in a
    deferred work item): until then, reads come without them."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sender.sendall(b".")
        _data, ancillary, _flags, _address = receiver.recvmsg(1, socket.CMSG_SPACE(TIMESPEC.size))
        if ancillary:
            return
        time.sleep(0.01)
    raise AssertionError("the kernel never stamped a read")
