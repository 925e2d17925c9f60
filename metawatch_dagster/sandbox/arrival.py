"""When a request reached the sandbox: the kernel's receive time of its bytes.

The quota counts requests when they arrive, as an API gateway would. A handler thread reads its request
only once it holds the GIL, and while other threads render boards that can be tens of milliseconds
later (up to 150 ms measured on 2 cores): counted then, requests sent evenly bunch up and trip the
quota. On Linux each socket read brings the kernel's receive time (SO_TIMESTAMPNS); elsewhere, and for
the reads before the kernel has turned stamping on (a moment after the first socket asks), a request
arrives when it is read.
"""

from __future__ import annotations

import io
import socket
import struct
import sys
import time

# Linux's value on every common architecture; Python's socket module does not name it. The kernel
# sends its control message under the same number (SCM_TIMESTAMPNS).
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")  # struct timespec: time_t seconds, long nanoseconds
_ANCILLARY_SIZE = socket.CMSG_SPACE(_TIMESPEC.size)
# A receive time further back than this is not believed (the wall clock was stepped meanwhile).
MAX_AGE_S = 5.0


def stamp_arrivals(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what the socket receives; False where it cannot."""
    if sys.platform != "linux":
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class StampedSocketReader(io.RawIOBase):
    """A socket's bytes, keeping when the last ones read arrived, on the `time.monotonic()` scale.

    Wrap it in `io.BufferedReader`: a request's line is read from the buffer it arrived in, so
    `arrived_at` after reading a request is that request's arrival (or a later part's).
    """

    def __init__(self, sock: socket.socket):
        super().__init__()
        self._sock = sock
        self.arrived_at: float | None = None

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._sock.fileno()

    def readinto(self, buffer) -> int:
        size, ancillary, _flags, _address = self._sock.recvmsg_into([buffer], _ANCILLARY_SIZE)
        self.arrived_at = time.monotonic() - age_of_stamp(ancillary)
        return size


def age_of_stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    """Seconds since the kernel received the bytes, from a read's control messages (0 without its
    stamp)."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return min(max(time.time() - (seconds + nanoseconds / 1e9), 0.0), MAX_AGE_S)
    return 0.0
