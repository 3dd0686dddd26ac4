"""The daily flow as Dagster assets: crawl → warehouse → leads → CSV.

Each asset is a thin wrapper: the work is done by functions of the `monitor`
package (the same ones the CLI calls), the asset only says which day and
source, and turns the result into metadata an operator can read in the UI.

Every asset that opens the DuckDB file sits in the `duckdb_writer` pool:
DuckDB takes one writing process at a time, and the instance limits that pool
to one step at a time across all runs (see pipelines/__init__.py).
"""

# No `from __future__ import annotations`: Dagster checks the `context`
# annotation's type when the decorator runs, and a string would not pass.

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AutomationCondition,
    Failure,
    MaterializeResult,
    MetadataValue,
    PipesSubprocessClient,
    asset,
)

from monitor.crawl.sources import load_source
from monitor.crawl_stage import search_terms
from monitor.errors import UserError
from monitor.export import COLUMNS, export_leads
from monitor.image.stage import fetch_images
from monitor.ingest import load_raw_day
from monitor.leads import match_days
from monitor.warehouse import Warehouse
from monitor.watchlist import Right, load_rights
from pipelines.crawl_process import SITE_ANSWERED
from pipelines.partitions import DAY, SOURCE, crawl_partitions, daily_partitions
from pipelines.resources import MonitorResource

DUCKDB_POOL = "duckdb_writer"
CRAWL_GROUP = "crawl"
DAILY_GROUP = "daily"


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a UserError (bad watchlist, warehouse in use...) as the step's one-line failure."""
    try:
        yield
    except UserError as exc:
        raise Failure(description=str(exc).splitlines()[0] if str(exc) else "error") from None


def partition_day(context: AssetExecutionContext) -> date:
    """The Beijing day of a daily partition."""
    return date.fromisoformat(context.partition_key)


def rights_of(monitor: MonitorResource) -> list[Right]:
    """The watchlists, re-read on every run (GI holders edit them between runs)."""
    with user_errors():
        return load_rights(monitor.watchlists_path())


@asset(
    partitions_def=crawl_partitions,
    group_name=CRAWL_GROUP,
    kinds={"scrapy", "python"},
    check_specs=[
        AssetCheckSpec(
            SITE_ANSWERED,
            asset="raw_listings",
            description="The marketplace answered at least one request with a status below 500.",
        )
    ],
)
def raw_listings(
    context: AssetExecutionContext,
    monitor: MonitorResource,
    pipes_subprocess_client: PipesSubprocessClient,
) -> MaterializeResult:
    """One source's crawl of one day: listings JSONL, WARC of every page and stats in the raw zone.

    Runs `monitor.crawl.runner` in a subprocess (Twisted's reactor cannot
    restart), one per source and day, so sources crawl in parallel and a
    failed source is re-run on its own.
    """
    keys = crawl_partitions.get_partition_key_from_str(context.partition_key).keys_by_dimension
    day, source_name = keys[DAY], keys[SOURCE]
    ref = monitor.source_ref(source_name)
    with user_errors():
        source = load_source(ref)
        terms = search_terms(load_rights(monitor.watchlists_path()))
    if source.name != source_name:
        raise Failure(description=f"{ref}: its name is {source.name!r}, not {source_name!r}")
    if not source.crawlable:
        raise Failure(description=f"{ref}: a feed's source file has no search_url to crawl")
    command = [sys.executable, "-m", "pipelines.crawl_process", "--source", ref]
    command += ["--date", day, "--data", str(monitor.data_path())]
    for term in terms:
        command += ["--term", term]
    context.log.info(f"crawling {source_name} for {day} with {len(terms)} search terms")
    return pipes_subprocess_client.run(command=command, context=context).get_materialize_result()


@asset(
    partitions_def=daily_partitions,
    group_name=DAILY_GROUP,
    kinds={"duckdb"},
    deps=[raw_listings],
    pool=DUCKDB_POOL,
    automation_condition=AutomationCondition.eager(),
    check_specs=[
        AssetCheckSpec(
            "feed_lines_valid",
            asset="warehouse_listings",
            description="Every line of the day's listing files was a valid listing.",
        )
    ],
)
def warehouse_listings(
    context: AssetExecutionContext, monitor: MonitorResource
) -> MaterializeResult:
    """The day's listings of every crawled source, as daily snapshots in DuckDB, with crawl stats.

    Loads whatever the raw zone holds for the day, so re-running a source's
    crawl and then this asset replaces that source's snapshots of the day.
    """
    day = partition_day(context)
    with user_errors(), Warehouse(monitor.db_path()) as wh:
        loads = load_raw_day(wh, monitor.data_path(), day)
    problems = [p for load in loads for p in load.ingest.problems]
    per_source = {
        load.source: {
            "loaded": load.ingest.loaded.total,
            "new": load.ingest.loaded.new,
            "changed": load.ingest.loaded.changed,
            "skipped_lines": len(load.ingest.problems),
            "pages": (load.stats or {}).get("pages"),
        }
        for load in loads
    }
    if not loads:
        context.log.warning(f"no crawled source has files for {day} in {monitor.data_path()}")
    return MaterializeResult(
        metadata={
            "sources": len(loads),
            "listings": sum(load.ingest.loaded.total for load in loads),
            "new": sum(load.ingest.loaded.new for load in loads),
            "changed": sum(load.ingest.loaded.changed for load in loads),
            "unchanged": sum(load.ingest.loaded.unchanged for load in loads),
            "pages": sum((load.stats or {}).get("pages", 0) for load in loads),
            "by_source": MetadataValue.json(per_source),
            "db": MetadataValue.path(str(monitor.db_path())),
        },
        check_results=[
            AssetCheckResult(
                check_name="feed_lines_valid",
                passed=not problems,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "skipped_lines": len(problems),
                    "first_problems": MetadataValue.md(
                        "\n".join(f"- `{p}`" for p in problems[:20]) or "none"
                    ),
                },
            )
        ],
    )


@asset(
    partitions_def=daily_partitions,
    group_name=DAILY_GROUP,
    kinds={"duckdb", "pillow"},
    deps=[warehouse_listings],
    pool=DUCKDB_POOL,
    automation_condition=AutomationCondition.eager(),
)
def listing_images(context: AssetExecutionContext, monitor: MonitorResource) -> MaterializeResult:
    """The day's listing images: fetched once each, kept by content hash, perceptually hashed.

    A bad image (truncated, not an image, a decompression bomb, too large, a
    host the source does not allow) is recorded with its reason; it never
    fails the step.
    """
    day = partition_day(context)
    with user_errors(), Warehouse(monitor.db_path()) as wh:
        result = fetch_images(wh, monitor.data_path(), day)
    return MaterializeResult(
        metadata={
            "new_urls": result.tried,
            "fetched": result.fetched,
            "new_images": result.new_images,
            "not_used": sum(result.problems.values()),
            "problems": MetadataValue.json(dict(result.problems)),
        }
    )


@asset(
    partitions_def=daily_partitions,
    group_name=DAILY_GROUP,
    kinds={"duckdb"},
    deps=[warehouse_listings, listing_images],
    pool=DUCKDB_POOL,
    automation_condition=AutomationCondition.eager(),
)
def leads(context: AssetExecutionContext, monitor: MonitorResource) -> MaterializeResult:
    """The day's verdict: every stored listing of the day matched against the watchlists.

    `match_days` replaces the day's previous verdict, so re-running a day
    (after a watchlist edit, say) never duplicates a lead.
    """
    day = partition_day(context)
    rights = rights_of(monitor)
    with user_errors(), Warehouse(monitor.db_path()) as wh:
        summary = match_days(wh, rights, [day])
    table = "\n".join(
        f"| {right} | {priority or '-'} | {n} |"
        for (right, priority), n in sorted(summary.by_right_priority.items())
    )
    by_right: dict[str, int] = {}
    for (right, _priority), n in summary.by_right_priority.items():
        by_right[right] = by_right.get(right, 0) + n
    return MaterializeResult(
        metadata={
            "listings": summary.listings,
            "referring": summary.referring,
            "leads": summary.leads,
            **{f"leads/{right}": n for right, n in sorted(by_right.items())},
            "by_right_priority": MetadataValue.md(
                "| right | priority | leads |\n| --- | --- | ---: |\n" + table if table else "none"
            ),
        }
    )


@asset(
    partitions_def=daily_partitions,
    group_name=DAILY_GROUP,
    kinds={"csv"},
    deps=[leads],
    pool=DUCKDB_POOL,
    automation_condition=AutomationCondition.eager(),
    check_specs=[
        AssetCheckSpec(
            "every_lead_has_reasons",
            asset="leads_csv",
            description="Every row of the CSV says why it is a lead (officers act on reasons).",
        )
    ],
)
def leads_csv(context: AssetExecutionContext, monitor: MonitorResource) -> MaterializeResult:
    """`<exports>/leads-<day>.csv`: every lead not dismissed, for enforcement officers.

    Reads DuckDB, so it shares the writers' pool: a DuckDB file open for
    writing in one process cannot be opened at all in another.
    """
    day = partition_day(context)
    rights = rights_of(monitor)
    out = monitor.exports_path() / f"leads-{day.isoformat()}.csv"
    with user_errors(), Warehouse(monitor.db_path(), read_only=True) as wh:
        result = export_leads(wh, rights, out)
    missing = rows_without_reasons(result.path)
    return MaterializeResult(
        metadata={"path": MetadataValue.path(str(result.path)), "rows": result.rows},
        check_results=[
            AssetCheckResult(
                check_name="every_lead_has_reasons",
                passed=not missing,
                metadata={
                    "rows_without_reasons": len(missing),
                    "lead_ids": ", ".join(missing[:20]),
                },
            )
        ],
    )


def rows_without_reasons(path: Path) -> list[str]:
    """lead_ids of the CSV's rows with an empty `reasons` cell (or the header if it is wrong)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        if tuple(header) != COLUMNS:
            return ["<header>"]
        at = COLUMNS.index("reasons")
        return [row[0] for row in reader if not row[at].strip()]


all_assets = [raw_listings, warehouse_listings, listing_images, leads, leads_csv]
