"""OAuth client credentials: one cached bearer token per client, renewed before it runs out."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from metawatch_dagster.blizzard.errors import BlizzardError, CredentialsRejected

log = logging.getLogger("metawatch.blizzard")

# Renew when this share of the token's lifetime is left (at most RENEW_MARGIN_MAX_S before expiry).
RENEW_MARGIN_SHARE = 0.1
RENEW_MARGIN_MAX_S = 60.0
# RFC 6750's b64token: all a bearer token may hold. Another character (a newline, a space) would make
# the Authorization header invalid, and requests quotes an invalid header's value in its error.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    renew_at: float


class TokenProvider:
    """Fetches and caches the access token; thread-safe, one fetch at a time.

    ``post`` is a callable like ``requests.Session.post``; transient failures of the token endpoint
    are retried by ``retry`` (the client's own backoff), so this class only knows the protocol.
    """

    def __init__(
        self,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        post: Callable[..., requests.Response],
        timeout: float,
        on_fetch: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.oauth_url = oauth_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._post = post
        self._timeout = timeout
        self._on_fetch = on_fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._rejected: str | None = None  # why the token endpoint refused the credentials

    def __repr__(self) -> str:
        return f"TokenProvider({self.oauth_url!r}, client_id={self._client_id!r})"

    def current(self) -> str:
        """A token that is not about to expire, fetched if needed."""
        with self._lock:
            # Refused credentials stay refused: the threads queued here would each ask again.
            if self._rejected is not None:
                raise CredentialsRejected(self._rejected)
            token = self._token
            if token is None or self._clock() >= token.renew_at:
                token = self._token = self._fetch()
            return token.value

    def invalidate(self, value: str) -> None:
        """Forget ``value`` after the API refused it (401), unless another thread already renewed it."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None

    def _fetch(self) -> Token:
        started = self._clock()
        where = f"POST {self.oauth_url}"
        try:
            response = self._post(
                self.oauth_url,
                auth=(self._client_id, self._client_secret),
                data={"grant_type": "client_credentials"},
                timeout=self._timeout,
            )
        except requests.RequestException as error:
            raise TokenUnavailable(f"{where} failed: {error.__class__.__name__}") from None
        if response.status_code != 200:
            reason = f"{where} answered {response.status_code}"
            if response.status_code in (400, 401, 403):
                self._rejected = f"{reason}: check BLIZZARD_CLIENT_ID / BLIZZARD_CLIENT_SECRET"
                raise CredentialsRejected(self._rejected)
            raise TokenUnavailable(reason)
        try:
            answer = response.json()
            value = answer["access_token"]
            expires_in = float(answer.get("expires_in", 0))
        except (ValueError, KeyError, TypeError):
            raise TokenUnavailable(f"{where} gave an unreadable answer") from None
        if not isinstance(value, str) or not value or expires_in <= 0:
            raise TokenUnavailable(f"{where} gave no usable token")
        if not _BEARER_TOKEN.fullmatch(value):
            raise TokenUnavailable(f"{where} gave a token that is not a valid bearer token")
        self._on_fetch()
        margin = min(RENEW_MARGIN_MAX_S, expires_in * RENEW_MARGIN_SHARE)
        log.debug("token fetched, valid for %.0f s", expires_in)
        return Token(value=value, renew_at=started + expires_in - margin)


class TokenUnavailable(BlizzardError):
    """The token endpoint failed in a way worth retrying (connection, 5xx, garbled answer)."""
