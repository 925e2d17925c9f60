"""Recording: every successful JSON answer of the API written where the sandbox's replay reads it.

Layout: ``<folder>/<region>/<API path>.json``, e.g.
``us/data/wow/connected-realm/3694/mythic-leaderboard/244/period/663.json``. Only response bodies are
written: never the token endpoint's answer, never a request header.
"""

from __future__ import annotations

from pathlib import Path

from metawatch_dagster.files import atomic_write_bytes


class Recorder:
    def __init__(self, folder: Path | str):
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"Recorder({str(self.folder)!r})"

    def path_for(self, region: str, api_path: str) -> Path:
        relative = Path(api_path.strip("/") + ".json")
        if (
            relative.is_absolute()
            or ".." in relative.parts
            or "/" in region
            or region in ("", "..")
        ):
            raise ValueError(f"refusing to record outside {self.folder}: {region}/{api_path}")
        return self.folder / region / relative

    def record(self, region: str, api_path: str, body: bytes) -> Path:
        path = self.path_for(region, api_path)
        atomic_write_bytes(path, body)
        return path
