"""The crawl stage as the CLI and Dagster run it: crawl one source for one day, then load.

Scrapy's reactor runs once per process, so this is meant to run in a process of
its own (`monitor crawl`); loading into DuckDB happens after the crawl has
finished and written its day files, so a failed crawl never touches the
warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from monitor.crawl.runner import CrawlSummary, run_crawl
from monitor.crawl.sources import load_source
from monitor.errors import UserError
from monitor.ingest import IngestResult, ingest_feed
from monitor.warehouse import Warehouse
from monitor.watchlist import Right, load_rights


def search_terms(rights: list[Right]) -> list[str]:
    """Search terms for every right, in watchlist order, without repeats."""
    seen: dict[str, None] = {}
    for right in rights:
        for term in right.search_terms():
            seen.setdefault(term, None)
    return list(seen)


@dataclass
class CrawlStageResult:
    crawl: CrawlSummary
    ingest: IngestResult

    @property
    def stats(self) -> dict[str, Any]:
        return self.crawl.stats


def crawl_and_load(
    source_ref: str,
    day: date,
    *,
    db: Path,
    watchlists: Path,
    data: Path,
    settings: dict[str, Any] | None = None,
) -> CrawlStageResult:
    """Crawl `source_ref` (bundled name or YAML path) for `day` and load what it found."""
    source = load_source(source_ref)
    rights = load_rights(watchlists)
    summary = run_crawl(source, day, data, search_terms(rights), settings=settings)
    stats = summary.stats
    if stats["finish_reason"] != "finished":
        # nothing to load: the day's files are untouched until the crawl completes
        raise UserError(
            f"crawl of {source.name} for {day} did not finish ({stats['finish_reason']}); "
            f"{stats['items']} listings so far are kept in {summary.job_dir}: "
            "run the same command again to resume"
        )
    with Warehouse(db) as wh:
        result = ingest_feed(wh, summary.listings_path, source.name, evidence_root=data)
        wh.record_crawl_stats(source.name, day, summary.stats)
    return CrawlStageResult(summary, result)
