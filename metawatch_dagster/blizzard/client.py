"""The Blizzard Game Data API client: OAuth, the shared quota, retries, If-Modified-Since, recording.

Thread-safe: one instance serves a whole thread pool (one ``requests.Session`` with a connection pool
as large as the pool of threads). The bearer token travels only in the ``Authorization`` header and
never appears in a log line, an exception or a repr.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from metawatch_dagster.blizzard.auth import TokenProvider, TokenUnavailable
from metawatch_dagster.blizzard.bodies import (
    InvalidBody,
    check_json_object_shape,
    parse_json_object,
)
from metawatch_dagster.blizzard.errors import BlizzardError, NotFound, Stopped
from metawatch_dagster.blizzard.quota import QuotaLimiter
from metawatch_dagster.blizzard.recorder import Recorder
from metawatch_dagster.blizzard.stats import ClientStats, StatsRecorder
from metawatch_dagster.config import Settings

log = logging.getLogger("metawatch.blizzard")

Namespace = Literal["dynamic", "static"]

_CONNECTED_REALM_IN_HREF = re.compile(r"connected-realm/(\d+)")
# requests' names for a body that ended before its announced length or could not be decoded.
_BODY_CUT_ERRORS = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


@dataclass(frozen=True)
class BoardResponse:
    """One leaderboard as answered: 200 with the raw bytes as received, 304 (unchanged) or 404."""

    status: int
    body: bytes | None
    last_modified: str | None
    url: str
    attempts: int

    def __repr__(self) -> str:
        size = "None" if self.body is None else f"<{len(self.body)} bytes>"
        return (
            f"BoardResponse(status={self.status}, body={size}, "
            f"last_modified={self.last_modified!r}, url={self.url!r}, attempts={self.attempts})"
        )


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes | None
    last_modified: str | None
    url: str
    attempts: int
    parsed: Any = None


class _Retry(Exception):
    """One attempt failed in a way worth another try; ``reason`` says how, ``delay`` overrides
    the backoff (Retry-After, an immediate retry after renewing the token)."""

    def __init__(self, reason: str, kind: str, delay: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.delay = delay


class BlizzardClient:
    def __init__(
        self,
        api_url: str,
        oauth_url: str,
        client_id: str,
        client_secret: str,
        limiter: QuotaLimiter | None = None,
        timeout: float = 10.0,
        max_retries: int = 6,
        pool_size: int = 32,
        recorder: Recorder | None = None,
        *,
        locale: str = "en_US",
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        sleep: Callable[[float], object] | None = None,
    ):
        """``limiter`` None means no client-side quota (only for tests against a local stub);
        ``sleep`` None waits between retries on the client's own event, which `stop` ends."""
        if not client_id or not client_secret:
            raise ValueError("BlizzardClient needs a client id and a client secret")
        self.api_url = api_url
        self.oauth_url = oauth_url
        self.limiter = limiter
        self.timeout = timeout
        self.max_retries = max_retries
        self.recorder = recorder
        self.locale = locale
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._random = random.Random()
        self._stats = StatsRecorder()
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._tokens = TokenProvider(
            oauth_url,
            client_id,
            client_secret,
            post=self._session.post,
            timeout=timeout,
            on_fetch=self._stats.token_fetched,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> BlizzardClient:
        """A client for the configured API whose quota is shared through ``settings.state_dir``."""
        if not (settings.client_id and settings.client_secret):
            raise ValueError("BLIZZARD_CLIENT_ID and BLIZZARD_CLIENT_SECRET are not set")
        options.setdefault("limiter", QuotaLimiter(settings.state_dir))
        return cls(
            settings.api_url,
            settings.oauth_url,
            settings.client_id,
            settings.client_secret,
            **options,
        )

    def __repr__(self) -> str:
        return f"BlizzardClient({self.api_url!r}, limiter={self.limiter!r})"

    def __enter__(self) -> BlizzardClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def stop(self) -> None:
        """Give up every request not sent yet, those waiting for a quota slot or a retry
        included (they raise Stopped): the caller abandons them, and they would otherwise spend
        the quota, after up to an hour's wait, on answers nobody reads."""
        self._stopping.set()
        if self.limiter is not None:
            self.limiter.stop()

    @property
    def stats(self) -> ClientStats:
        return self._stats.snapshot()

    # -- the API ------------------------------------------------------------------------------

    def connected_realm_ids(self, region: str) -> list[int]:
        index = self._json(region, "/data/wow/connected-realm/index")
        ids = []
        for link in index.get("connected_realms", []):
            match = _CONNECTED_REALM_IN_HREF.search(link.get("href", ""))
            if match:
                ids.append(int(match.group(1)))
        return ids

    def connected_realm(self, region: str, connected_realm_id: int) -> dict[str, Any]:
        return self._json(region, f"/data/wow/connected-realm/{connected_realm_id}")

    def leaderboard_index(self, region: str, connected_realm_id: int) -> dict[str, Any]:
        """The current season's dungeons; each href names the current period."""
        path = f"/data/wow/connected-realm/{connected_realm_id}/mythic-leaderboard/index"
        return self._json(region, path)

    def leaderboard(
        self,
        region: str,
        connected_realm_id: int,
        dungeon_id: int,
        period: int,
        if_modified_since: str | None = None,
    ) -> BoardResponse:
        path = (
            f"/data/wow/connected-realm/{connected_realm_id}"
            f"/mythic-leaderboard/{dungeon_id}/period/{period}"
        )
        reply = self._fetch(region, path, "dynamic", check_json_object_shape, if_modified_since)
        return BoardResponse(
            status=reply.status,
            body=reply.body,
            last_modified=reply.last_modified,
            url=reply.url,
            attempts=reply.attempts,
        )

    def period_index(self, region: str) -> dict[str, Any]:
        return self._json(region, "/data/wow/mythic-keystone/period/index")

    def period(self, region: str, period_id: int) -> dict[str, Any]:
        return self._json(region, f"/data/wow/mythic-keystone/period/{period_id}")

    def season_index(self, region: str) -> dict[str, Any]:
        return self._json(region, "/data/wow/mythic-keystone/season/index")

    def season(self, region: str, season_id: int) -> dict[str, Any]:
        return self._json(region, f"/data/wow/mythic-keystone/season/{season_id}")

    def dungeon_index(self, region: str) -> dict[str, Any]:
        return self._json(region, "/data/wow/mythic-keystone/dungeon/index")

    def dungeon(self, region: str, dungeon_id: int) -> dict[str, Any]:
        """A dungeon with its ``keystone_upgrades`` (timers in ms)."""
        return self._json(region, f"/data/wow/mythic-keystone/dungeon/{dungeon_id}")

    def specialization_index(self, region: str) -> dict[str, Any]:
        return self._json(region, "/data/wow/playable-specialization/index", "static")

    def specialization(self, region: str, spec_id: int) -> dict[str, Any]:
        return self._json(region, f"/data/wow/playable-specialization/{spec_id}", "static")

    # -- the machinery ------------------------------------------------------------------------

    def _json(self, region: str, path: str, namespace: Namespace = "dynamic") -> dict[str, Any]:
        reply = self._fetch(region, path, namespace, parse_json_object)
        if reply.status == 404:
            raise NotFound(f"GET {reply.url} answered 404")
        return reply.parsed

    def _url(self, region: str, path: str, namespace: Namespace) -> str:
        base = self.api_url.replace("{region}", region).rstrip("/")
        query = urlencode({"namespace": f"{namespace}-{region}", "locale": self.locale})
        return f"{base}{path}?{query}"

    def _fetch(
        self,
        region: str,
        path: str,
        namespace: Namespace,
        validate: Callable[[bytes], Any],
        if_modified_since: str | None = None,
    ) -> _Reply:
        url = self._url(region, path, namespace)
        reason = "not attempted"
        for attempt in range(1, self.max_retries + 2):
            if self._stopping.is_set():
                raise Stopped(f"GET {url} was given up: the client was stopped")
            try:
                reply = self._attempt(url, validate, if_modified_since, attempt)
            except _Retry as retry:
                reason = retry.reason
                self._stats.failed(retry.kind)
                if attempt > self.max_retries:
                    break
                delay = self._backoff(attempt) if retry.delay is None else retry.delay
                log.debug("GET %s attempt %d: %s; retrying in %.2f s", url, attempt, reason, delay)
                if delay > 0:
                    self._sleep(delay)
                continue
            if reply.status == 200 and self.recorder is not None:
                self.recorder.record(region, path, reply.body)
            return reply
        log.warning("GET %s failed after %d attempts: %s", url, self.max_retries + 1, reason)
        raise BlizzardError(f"GET {url} failed after {self.max_retries + 1} attempts: {reason}")

    def _attempt(
        self,
        url: str,
        validate: Callable[[bytes], Any],
        if_modified_since: str | None,
        attempt: int,
    ) -> _Reply:
        """One request; returns an answer (200/304/404) or raises _Retry (or BlizzardError,
        CredentialsRejected)."""
        try:
            # A token before the quota wait, so a failing token endpoint spends no quota slot, and
            # the one sent after it: the wait can last an hour, and a token that expired meanwhile
            # would spend the slot on a 401.
            self._tokens.current()
            waited = self.limiter.acquire() if self.limiter is not None else 0.0
            token = self._tokens.current()
        except TokenUnavailable as error:
            raise _Retry(str(error), "token") from None
        self._stats.sent(retry=attempt > 1, quota_wait_s=waited)
        headers = {"Authorization": f"Bearer {token}"}
        if if_modified_since:
            headers["If-Modified-Since"] = if_modified_since
        try:
            response = self._session.get(url, headers=headers, timeout=self.timeout)
            body = response.content
        except requests.Timeout as error:
            raise _Retry(f"timeout ({error.__class__.__name__})", "timeout") from None
        except _BODY_CUT_ERRORS as error:
            raise _Retry(f"truncated body ({error.__class__.__name__})", "truncated") from None
        except requests.ConnectionError as error:
            raise _Retry(f"{error.__class__.__name__}: {error}", "connection") from None
        except requests.RequestException as error:
            # The class alone: requests' text can quote a header's value, the token's included.
            raise BlizzardError(f"GET {url} failed: {error.__class__.__name__}") from None

        status = response.status_code
        self._stats.answered(status, len(body))
        last_modified = response.headers.get("Last-Modified")
        if status == 200:
            _check_length(response, body)
            try:
                parsed = validate(body)
            except InvalidBody as error:
                raise _Retry(f"status 200 with {error}", "invalid body") from None
            return _Reply(200, body, last_modified, url, attempt, parsed)
        if status in (304, 404):
            return _Reply(status, None, last_modified, url, attempt)
        if status == 401:
            self._tokens.invalidate(token)
            # The first refusal most likely means an expired token: renew and go again at once.
            raise _Retry(
                "status 401 (token refused)", "unauthorized", 0.0 if attempt == 1 else None
            )
        if status == 429:
            retry_after = _retry_after_seconds(response, default=1.0)
            log.warning("GET %s: 429 too many requests, holding off %.1f s", url, retry_after)
            if self.limiter is not None:
                self.limiter.refused(retry_after)
                raise _Retry("status 429", "rate limited", 0.0)
            raise _Retry("status 429", "rate limited", retry_after)
        if status >= 500 or status == 408:
            raise _Retry(f"status {status}", f"http {status}")
        raise BlizzardError(f"GET {url} answered {status}")

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform between 0 and the exponential ceiling of this attempt."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        return self._random.uniform(0, ceiling)


def _check_length(response: requests.Response, body: bytes) -> None:
    """A body shorter or longer than announced was cut or garbled on the way."""
    declared = response.headers.get("Content-Length")
    if declared is None or response.headers.get("Content-Encoding"):
        return  # chunked, or decompressed by requests: the header does not describe ``body``
    if declared.isdigit() and int(declared) != len(body):
        raise _Retry(f"truncated body ({len(body)} of {declared} bytes)", "truncated")


def _retry_after_seconds(response: requests.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default
