"""What the client raises. Messages name the request (method and URL, never a secret) and the reason."""

from __future__ import annotations


class BlizzardError(RuntimeError):
    """A request that did not get a usable answer once its retries were spent."""


class NotFound(BlizzardError):
    """The API answered 404: the thing asked for does not exist (an answer, not a failure)."""


class CredentialsRejected(RuntimeError):
    """The token endpoint refused the client id or secret (400, 401, 403).

    Not a BlizzardError: no request can succeed until the settings change, so code that records a
    failed request and carries on (a fetch's per-board handling) must not absorb it.
    """


class Stopped(RuntimeError):
    """A request given up before it was sent: its client was told to stop (an interrupted fetch).

    Not a BlizzardError, for the same reason as CredentialsRejected.
    """
