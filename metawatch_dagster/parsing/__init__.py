"""Parsing raw leaderboard snapshots into the contract tables, in DuckDB SQL."""

from metawatch_dagster.parsing.cache import drop_cache_before
from metawatch_dagster.parsing.partition import ForeignManifestError, ParseResult, parse_partition

__all__ = ["ForeignManifestError", "ParseResult", "drop_cache_before", "parse_partition"]
