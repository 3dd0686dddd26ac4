"""Run one crawl of one source for one day, and say what it did.

`run_crawl` uses Scrapy's CrawlerProcess, which starts Twisted's reactor; the
reactor cannot be restarted, so **a Python process can run one crawl only**.
Callers that crawl repeatedly (the CLI's daily run, Dagster) run each crawl in
a process of its own, e.g. `python -m monitor.crawl.runner ...` (DESIGN.md,
"Known pitfalls"). A second call in the same process raises RuntimeError
instead of Twisted's ReactorNotRestartable.

Command line (one JSON line on stdout, logs on stderr, exit 1 on a user error):

    python -m monitor.crawl.runner --source PATH_OR_NAME --date YYYY-MM-DD \
        --data DIR --term T [--term T ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from monitor.config import data_dir, parse_day, today
from monitor.crawl.rawzone import (
    DAY_DIR_SETTING,
    LISTINGS_FILE,
    STATS_FILE,
    WARC_FILE,
    day_dir,
    write_json_atomically,
)
from monitor.crawl.sources import SourceConfig, load_source
from monitor.errors import UserError

_STATS_PREFIXES = {
    "responses_by_status": "downloader/response_status_count/",
    "dropped": "item_dropped_reasons_count/",
}
# Scrapy's CoreStats counts pipeline drops under the exception class name as
# well; that is a total, not a reason (see pipelines.py).
_NOT_A_REASON = {"DropListing"}

_crawl_started = False


@dataclass(frozen=True)
class CrawlSummary:
    """Where a crawl's day files are, and its stats (also in `<day>/stats.json`)."""

    source: str
    day: date
    listings_path: Path
    warc_path: Path
    stats_path: Path
    stats: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths and day as strings)."""
        return {
            "source": self.source,
            "day": self.day.isoformat(),
            "listings_path": str(self.listings_path),
            "warc_path": str(self.warc_path),
            "stats_path": str(self.stats_path),
            "stats": self.stats,
        }


def summarize_stats(raw: Mapping[str, Any], source: str, day: date) -> dict[str, Any]:
    """The operator's view of Scrapy's stats: pages, listings, drops, responses, time.

    Keys: requests, responses_by_status {"200": n, ...} (string codes, so the
    dict survives a JSON round trip unchanged), items, dropped {reason: n},
    pages (listing pages fetched), warc_records, retries, robots_forbidden,
    offsite_filtered, blocked_hosts, errors, finish_reason, started_at,
    finished_at (UTC ISO-8601), duration_seconds, source, day.
    """

    def grouped(prefix: str) -> dict[str, int]:
        return {
            key[len(prefix) :]: int(value)
            for key, value in sorted(raw.items())
            if key.startswith(prefix) and key[len(prefix) :] not in _NOT_A_REASON
        }

    started, finished = raw.get("start_time"), raw.get("finish_time")
    return {
        "source": source,
        "day": day.isoformat(),
        "requests": int(raw.get("downloader/request_count", 0)),
        "responses_by_status": grouped(_STATS_PREFIXES["responses_by_status"]),
        "items": int(raw.get("item_scraped_count", 0)),
        "dropped": grouped(_STATS_PREFIXES["dropped"]),
        "pages": int(raw.get("monitor/pages", 0)),
        "warc_records": int(raw.get("monitor/warc_records", 0)),
        "retries": int(raw.get("retry/count", 0)),
        "robots_forbidden": int(raw.get("robotstxt/forbidden", 0)),
        "offsite_filtered": int(raw.get("offsite/filtered", 0)),
        "blocked_hosts": int(raw.get("blocked_host/count", 0)),
        "errors": int(raw.get("log_count/ERROR", 0)),
        "finish_reason": str(raw.get("finish_reason", "")),
        "started_at": started.isoformat() if isinstance(started, datetime) else "",
        "finished_at": finished.isoformat() if isinstance(finished, datetime) else "",
        "duration_seconds": round(float(raw.get("elapsed_time_seconds", 0.0)), 3),
    }


def run_crawl(
    source: SourceConfig,
    day: date,
    data_root: Path,
    search_terms: Sequence[str],
    *,
    settings: Mapping[str, Any] | None = None,
) -> CrawlSummary:
    """Crawl `source` for `search_terms` as the crawl of `day`; write the day's raw files.

    Writes `<data_root>/raw/<source>/<day>/{listings.jsonl, pages.warc.gz,
    stats.json}`, replacing a previous run's files for that day. `settings`
    overrides the defaults of monitor.crawl.settings (e.g. LOG_LEVEL).

    Runs once per Python process (Twisted's reactor cannot restart): call it
    from a process of its own. Raises UserError for a source that cannot be
    crawled (a feed's source file, `render: browser`, no terms).
    """
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from monitor.crawl import settings as crawl_settings
    from monitor.crawl.spider import ListingSpider, check_crawlable

    global _crawl_started
    terms = check_crawlable(source, search_terms)
    if _crawl_started:
        raise RuntimeError(
            "run_crawl() can run only once per Python process (Twisted's reactor cannot "
            "restart); run each crawl in its own process: python -m monitor.crawl.runner"
        )

    target = day_dir(Path(data_root), source.name, day).resolve()
    scrapy_settings = Settings()
    scrapy_settings.setmodule(crawl_settings, priority="project")
    if settings:
        scrapy_settings.setdict(dict(settings), priority="cmdline")
    scrapy_settings.set(DAY_DIR_SETTING, str(target), priority="cmdline")

    _crawl_started = True
    process = CrawlerProcess(scrapy_settings)
    crawler = process.create_crawler(ListingSpider)
    failures: list[Any] = []
    process.crawl(crawler, source=source, terms=terms, day=day).addErrback(failures.append)
    process.start()
    if failures:
        failures[0].raiseException()

    stats = summarize_stats(crawler.stats.get_stats() if crawler.stats else {}, source.name, day)
    stats_path = target / STATS_FILE
    if stats["finish_reason"] == "finished":
        write_json_atomically(stats_path, stats)
    return CrawlSummary(
        source=source.name,
        day=day,
        listings_path=target / LISTINGS_FILE,
        warc_path=target / WARC_FILE,
        stats_path=stats_path,
        stats=stats,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one crawl; print its summary as one JSON line. Exit 1 on a user error."""
    parser = argparse.ArgumentParser(
        prog="python -m monitor.crawl.runner",
        description="Crawl one source for one day (one crawl per process).",
    )
    parser.add_argument("--source", required=True, help="bundled source name or source YAML path")
    parser.add_argument("--date", help="crawl day YYYY-MM-DD (default: today in Asia/Shanghai)")
    parser.add_argument("--data", help="raw zone root (default: MONITOR_DATA or ./data)")
    parser.add_argument("--term", action="append", required=True, help="search term (repeatable)")
    args = parser.parse_args(argv)
    try:
        source = load_source(args.source)
        day = parse_day(args.date) or today()
        summary = run_crawl(source, day, data_dir(args.data), args.term)
    except UserError as exc:
        print(str(exc).splitlines()[0] if str(exc) else "error", file=sys.stderr)
        return 1
    print(json.dumps(summary.to_dict(), ensure_ascii=False), flush=True)
    reason = summary.stats["finish_reason"]
    if reason != "finished":
        print(
            f"crawl did not finish ({reason}); the day's files were left as they were",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
