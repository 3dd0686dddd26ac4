"""Where the product's files are, as one Dagster resource.

The paths default to what the `monitor` command uses (monitor.config: flags
there, MONITOR_DB / MONITOR_WATCHLISTS / MONITOR_DATA / MONITOR_EXPORTS here,
then the repository defaults), resolved when a run starts rather than when the
definitions load, so the environment of the run decides.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource, Failure
from pydantic import Field

from monitor import config
from pipelines.partitions import source_refs


class MonitorResource(ConfigurableResource):
    """The warehouse, watchlists, raw zone and exports of one deployment, and its sources."""

    db: str | None = Field(
        default=None, description="DuckDB file (default: MONITOR_DB or warehouse/monitor.duckdb)"
    )
    watchlists: str | None = Field(
        default=None, description="Watchlists folder (default: MONITOR_WATCHLISTS or watchlists/)"
    )
    data: str | None = Field(
        default=None, description="Raw zone root (default: MONITOR_DATA or data/)"
    )
    exports: str | None = Field(
        default=None, description="Where leads CSVs go (default: MONITOR_EXPORTS or exports/)"
    )
    sources: dict[str, str] = Field(
        default_factory=source_refs,
        description="Source name (a partition key) → bundled source name or source YAML path",
    )

    def db_path(self) -> Path:
        """Absolute, because the crawl subprocess and the UI may have other working dirs."""
        return config.db_path(self.db).resolve()

    def watchlists_path(self) -> Path:
        return config.watchlists_dir(self.watchlists).resolve()

    def data_path(self) -> Path:
        return config.data_dir(self.data).resolve()

    def exports_path(self) -> Path:
        return config.exports_dir(self.exports).resolve()

    def source_ref(self, name: str) -> str:
        """The file to crawl for a source partition; a partition without one is a config error."""
        try:
            return self.sources[name]
        except KeyError:
            known = ", ".join(sorted(self.sources)) or "none"
            raise Failure(
                description=f"source {name!r} has no source file in the resource's `sources` "
                f"(configured: {known})"
            ) from None
