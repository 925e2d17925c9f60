"""Replay: serves recorded bodies from ``DIR/<region>/<API path>.json`` instead of the synthetic world."""

from __future__ import annotations

from pathlib import Path


class ReplayStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()

    def find(self, region: str, api_path: str) -> Path | None:
        """The file for ``/data/wow/...`` in ``region``, or None (a 404) when absent or outside."""
        path = (self.folder / region / (api_path.strip("/") + ".json")).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        return path
