"""Dagster definitions of the daily monitoring flow (`dagster dev` in the repository root).

Assets (pipelines/assets.py), each a thin wrapper over the `monitor` package:

- `raw_listings`, partitioned by day × source: one crawl in a subprocess.
- `warehouse_listings`, `leads`, `leads_csv`, partitioned by day: load into
  DuckDB, match against the watchlists, write `<exports>/leads-<day>.csv`.

Schedule `daily_crawl` crawls every source at 02:00 Asia/Shanghai; the
`daily_after_crawl` automation sensor then runs the daily assets
(pipelines/schedules.py).

DuckDB takes one writing process at a time. The assets that open the file are
in the `duckdb_writer` pool, and `dagster.yaml` in the repository root sets
the pools' limit to 1 (`concurrency: pools: default_limit: 1`), so two of them
never run at once, in one run or across runs. `dagster dev` reads that file
when DAGSTER_HOME is unset; with DAGSTER_HOME set, copy dagster.yaml there or
run `dagster instance concurrency set duckdb_writer 1` once.

Paths come from the `monitor` resource (MONITOR_DB, MONITOR_WATCHLISTS,
MONITOR_DATA, MONITOR_EXPORTS by default); MONITOR_SOURCES lists the source
files to crawl (default: every bundled source).
"""

from __future__ import annotations

from dagster import Definitions, PipesSubprocessClient

from pipelines.assets import all_assets
from pipelines.resources import MonitorResource
from pipelines.schedules import crawl_job, daily_after_crawl, daily_crawl, process_day_job

defs = Definitions(
    assets=all_assets,
    jobs=[crawl_job, process_day_job],
    schedules=[daily_crawl],
    sensors=[daily_after_crawl],
    resources={
        "monitor": MonitorResource(),
        "pipes_subprocess_client": PipesSubprocessClient(),
    },
)
