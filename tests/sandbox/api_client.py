"""A bare HTTP client for the sandbox tests (the real client lives elsewhere and is tested on its own)."""

from __future__ import annotations

import requests

from metawatch_dagster.sandbox import Sandbox


class ApiClient:
    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.session = requests.Session()
        self.token: str | None = None

    def close(self) -> None:
        self.session.close()

    def fetch_token(self) -> str:
        reply = self.session.post(
            self.sandbox.oauth_url,
            auth=(self.sandbox.client_id, self.sandbox.client_secret),
            data={"grant_type": "client_credentials"},
        )
        reply.raise_for_status()
        self.token = reply.json()["access_token"]
        return self.token

    def get(
        self,
        region: str,
        path: str,
        namespace: str | None = "dynamic",
        headers: dict[str, str] | None = None,
        **kwargs,
    ) -> requests.Response:
        if self.token is None:
            self.fetch_token()
        params = {"namespace": f"{namespace}-{region}"} if namespace else {}
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        url = self.sandbox.api_url.format(region=region) + path
        return self.session.get(url, params=params, headers=sent, **kwargs)

    def board(self, region: str, cr: int, dungeon: int, period: int, **kwargs) -> requests.Response:
        path = f"/data/wow/connected-realm/{cr}/mythic-leaderboard/{dungeon}/period/{period}"
        return self.get(region, path, **kwargs)
