"""When the day runs: crawl every source at 02:00 Beijing time, then load, match, export.

The crawl and the daily assets have different partitions (day × source vs
day), so one run cannot hold both. The schedule starts one crawl run per
source for the day; the daily assets carry `AutomationCondition.eager()`, and
the `daily_after_crawl` sensor launches load → match → export for the day once
every source's crawl of it has materialized and none is still running. A
source that failed keeps the day waiting until it is re-run (or the operator
runs `process_day` for that day by hand).
"""

# No `from __future__ import annotations`: Dagster inspects the context
# annotation's type when the decorator runs.

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MultiPartitionKey,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from monitor.config import TZ
from pipelines.assets import leads, leads_csv, listing_images, raw_listings, warehouse_listings
from pipelines.partitions import DAY, SOURCE, source_partitions

DAILY_CRON = "0 2 * * *"

crawl_job = define_asset_job(
    "crawl_source_day",
    selection=[raw_listings],
    description="Crawl one source for one day (pick a day × source partition).",
)

process_day_job = define_asset_job(
    "process_day",
    selection=[warehouse_listings, listing_images, leads, leads_csv],
    description="Load a day's raw files, match them and export the leads CSV.",
)


def day_run_requests(day: str) -> list[RunRequest]:
    """One crawl run per source for `day` (YYYY-MM-DD); the run key makes a tick idempotent."""
    return [
        RunRequest(
            run_key=f"{day}/{source}",
            partition_key=MultiPartitionKey({DAY: day, SOURCE: source}),
            tags={"monitor/day": day, "monitor/source": source},
        )
        for source in source_partitions.get_partition_keys()
    ]


@schedule(
    job=crawl_job,
    cron_schedule=DAILY_CRON,
    execution_timezone=str(TZ),
    name="daily_crawl",
    default_status=DefaultScheduleStatus.RUNNING,
    description="02:00 Asia/Shanghai: crawl today's partition of every source.",
)
def daily_crawl(context: ScheduleEvaluationContext) -> list[RunRequest]:
    """The tick's day is its date in Beijing: the 02:00 crawl is the crawl of that day."""
    day = context.scheduled_execution_time.astimezone(TZ).date().isoformat()
    return day_run_requests(day)


daily_after_crawl = AutomationConditionSensorDefinition(
    "daily_after_crawl",
    target=AssetSelection.assets(warehouse_listings, listing_images, leads, leads_csv),
    default_status=DefaultSensorStatus.RUNNING,
    description="Load, match and export a day once all of its crawls have finished.",
)
