"""What the client raises. Messages name the request (method and URL, never a secret) and the reason."""

from __future__ import annotations


class BlizzardError(RuntimeError):
    """A request that did not get a usable answer once its retries were spent."""


class NotFound(BlizzardError):
    """The API answered 404: the thing asked for does not exist (an answer, not a failure)."""
