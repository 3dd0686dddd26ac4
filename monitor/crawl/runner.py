"""Run one crawl of one source for one day, and say what it did.

`run_crawl` uses Scrapy's CrawlerProcess, which starts Twisted's reactor; the
reactor cannot be restarted, so **a Python process can run one crawl only**.
Callers that crawl repeatedly (the CLI's daily run, Dagster) run each crawl in
a process of its own, e.g. `python -m monitor.crawl.runner ...` (DESIGN.md,
"Known pitfalls"). A second call in the same process raises RuntimeError
instead of Twisted's ReactorNotRestartable.

Interrupting and resuming: every crawl runs with Scrapy's JOBDIR at
`<data>/jobs/<source>/<day>`. Stopped by SIGINT or SIGTERM (once: a second
signal kills it without saving), a crawl keeps its queue there and its share
of the day files as a part (see `rawzone`), and exits 1 without touching the
day's files. Started again for the same source and day it continues from the
queue, and when it finishes the day files hold the parts plus its own output:
every listing exactly once, and stats.json the sums of all its runs. A crawl
that was killed outright (SIGKILL, power loss) starts over, as does one run
with `--fresh`. A finished crawl removes its job folder, so running a
finished day again is a fresh re-crawl that replaces the day.

Command line (one JSON line on stdout, logs on stderr, exit 1 on a user error
or an interrupted crawl):

    python -m monitor.crawl.runner --source PATH_OR_NAME --date YYYY-MM-DD \
        --data DIR --term T [--term T ...] [--fresh]
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
    DOM_DIR,
    IMAGES_FILE,
    IMAGES_STORE_DIR,
    LISTINGS_FILE,
    PARTS_SETTING,
    RUN_PART_SETTING,
    SCREENSHOTS_DIR,
    STATS_FILE,
    WARC_FILE,
    CrawlJob,
    day_dir,
    job_dir,
    remove_stale_temporaries,
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
# Counters that add up over the runs of an interrupted and resumed crawl.
_SUMMED = (
    "requests",
    "items",
    "pages",
    "warc_records",
    "dom_files",
    "screenshots",
    "images_ok",
    "images_failed",
    "images_refused",
    "browser_requests",
    "browser_wait_timeouts",
    "retries",
    "retry_backoff_seconds",
    "robots_forbidden",
    "offsite_filtered",
    "blocked_hosts",
    "errors",
)
_SUMMED_GROUPS = ("responses_by_status", "dropped")

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
    dom_dir: Path | None = None  # browser sources: <day>/dom and <day>/screenshots
    screenshots_dir: Path | None = None
    job_dir: Path | None = None  # where an interrupted crawl waits to be resumed
    resumed: bool = False
    images_path: Path | None = None  # <day>/images.jsonl: what became of each image URL

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths and day as strings)."""
        return {
            "source": self.source,
            "day": self.day.isoformat(),
            "listings_path": str(self.listings_path),
            "warc_path": str(self.warc_path),
            "stats_path": str(self.stats_path),
            "images_path": str(self.images_path) if self.images_path else "",
            "dom_dir": str(self.dom_dir) if self.dom_dir else "",
            "screenshots_dir": str(self.screenshots_dir) if self.screenshots_dir else "",
            "job_dir": str(self.job_dir) if self.job_dir else "",
            "resumed": self.resumed,
            "stats": self.stats,
        }


def summarize_stats(raw: Mapping[str, Any], source: str, day: date) -> dict[str, Any]:
    """The operator's view of Scrapy's stats: pages, listings, drops, responses, time.

    Keys: requests, responses_by_status {"200": n, ...} (string codes, so the
    dict survives a JSON round trip unchanged), items, dropped {reason: n},
    pages (listing pages fetched), warc_records, dom_files, screenshots,
    images_ok (listing images stored), images_failed (tried and failed: HTTP
    error, too large, unreachable), images_refused (hosts the source does not
    allow, never requested),
    browser_requests (every request the browser made: pages, scripts, API
    calls, images), browser_wait_timeouts, retries, robots_forbidden,
    offsite_filtered, blocked_hosts, errors, finish_reason, started_at,
    finished_at (UTC ISO-8601), duration_seconds, pages_per_second (listing
    pages), requests_per_second, runs (1, or more for a resumed crawl),
    source, day.
    """

    def grouped(prefix: str) -> dict[str, int]:
        return {
            key[len(prefix) :]: int(value)
            for key, value in sorted(raw.items())
            if key.startswith(prefix) and key[len(prefix) :] not in _NOT_A_REASON
        }

    started, finished = raw.get("start_time"), raw.get("finish_time")
    stats: dict[str, Any] = {
        "source": source,
        "day": day.isoformat(),
        "requests": int(raw.get("downloader/request_count", 0)),
        "responses_by_status": grouped(_STATS_PREFIXES["responses_by_status"]),
        "items": int(raw.get("item_scraped_count", 0)),
        "dropped": grouped(_STATS_PREFIXES["dropped"]),
        "pages": int(raw.get("monitor/pages", 0)),
        "warc_records": int(raw.get("monitor/warc_records", 0)),
        "dom_files": int(raw.get("monitor/dom_files", 0)),
        "screenshots": int(raw.get("monitor/screenshots", 0)),
        "images_ok": int(raw.get("monitor/images/ok", 0)),
        "images_failed": int(raw.get("monitor/images/error", 0)),
        "images_refused": int(raw.get("monitor/images/refused", 0)),
        "browser_requests": int(raw.get("playwright/request_count", 0)),
        "browser_wait_timeouts": int(raw.get("monitor/browser_wait_timeout", 0)),
        "retries": int(raw.get("retry/count", 0)),
        "retry_backoff_seconds": float(raw.get("retry/backoff_seconds", 0.0)),
        "robots_forbidden": int(raw.get("robotstxt/forbidden", 0)),
        "offsite_filtered": int(raw.get("offsite/filtered", 0)),
        "blocked_hosts": int(raw.get("blocked_host/count", 0)),
        "errors": int(raw.get("log_count/ERROR", 0)),
        "finish_reason": str(raw.get("finish_reason", "")),
        "started_at": started.isoformat() if isinstance(started, datetime) else "",
        "finished_at": finished.isoformat() if isinstance(finished, datetime) else "",
        "duration_seconds": round(float(raw.get("elapsed_time_seconds", 0.0)), 3),
        "runs": 1,
    }
    return _with_rates(stats)


def _with_rates(stats: dict[str, Any]) -> dict[str, Any]:
    """Add pages/second and requests/second over the time the crawl ran."""
    seconds = float(stats.get("duration_seconds") or 0.0)
    stats["pages_per_second"] = round(stats["pages"] / seconds, 2) if seconds > 0 else 0.0
    stats["requests_per_second"] = round(stats["requests"] / seconds, 2) if seconds > 0 else 0.0
    return stats


def merge_stats(earlier: Sequence[Mapping[str, Any]], last: Mapping[str, Any]) -> dict[str, Any]:
    """The stats of a crawl that ran in several runs (interrupted, then resumed).

    Counters and per-status/per-reason counts are summed, the duration is
    the time the runs took together (not the pause between them), the start
    is the first run's and the finish and its reason the last run's.
    """
    if not earlier:
        return dict(last)
    runs = [*earlier, last]
    merged = dict(last)
    for key in _SUMMED:
        merged[key] = sum(r.get(key, 0) or 0 for r in runs)
    for key in _SUMMED_GROUPS:
        total: dict[str, int] = {}
        for run in runs:
            for name, count in (run.get(key) or {}).items():
                total[name] = total.get(name, 0) + int(count)
        merged[key] = dict(sorted(total.items()))
    merged["duration_seconds"] = round(sum(float(r.get("duration_seconds", 0)) for r in runs), 3)
    merged["started_at"] = earlier[0].get("started_at", "") or last.get("started_at", "")
    merged["runs"] = sum(int(r.get("runs", 1)) for r in runs)
    return _with_rates(merged)


def format_stats(stats: Mapping[str, Any]) -> str:
    """One line for people: requests, responses by status, pages, listings, drops, time, rate."""
    statuses = ", ".join(f"{k}: {v}" for k, v in stats["responses_by_status"].items()) or "none"
    dropped = ", ".join(f"{k}: {v}" for k, v in stats["dropped"].items()) or "none"
    runs = f" in {stats['runs']} runs" if int(stats.get("runs", 1)) > 1 else ""
    return (
        f"crawl {stats['source']} {stats['day']}: {stats['requests']} requests "
        f"(responses {statuses}), {stats['pages']} listing pages, {stats['items']} listings, "
        f"dropped {dropped}, {stats['duration_seconds']:.1f}s{runs}, "
        f"{stats.get('pages_per_second', 0):.1f} pages/s"
    )


def run_crawl(
    source: SourceConfig,
    day: date,
    data_root: Path,
    search_terms: Sequence[str],
    *,
    settings: Mapping[str, Any] | None = None,
    fresh: bool = False,
) -> CrawlSummary:
    """Crawl `source` for `search_terms` as the crawl of `day`; write the day's raw files.

    Writes `<data_root>/raw/<source>/<day>/{listings.jsonl, pages.warc.gz,
    images.jsonl, stats.json}` (and `dom/`, `screenshots/` for a browser
    source), replacing a previous run's files for that day; listing images go
    to `<data_root>/images/`, by content. An interrupted crawl of the day is
    resumed unless `fresh`. `settings` overrides the defaults of
    monitor.crawl.settings (e.g. LOG_LEVEL).

    Runs once per Python process (Twisted's reactor cannot restart): call it
    from a process of its own. Raises UserError for a source that cannot be
    crawled (a feed's source file, a browser source without Chromium, no
    terms) or a day another process is crawling.
    """
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from monitor.crawl import settings as crawl_settings
    from monitor.crawl.browser import isolate_driver_from_signals, playwright_settings
    from monitor.crawl.spider import ListingSpider, check_crawlable

    global _crawl_started
    terms = check_crawlable(source, search_terms)
    if _crawl_started:
        raise RuntimeError(
            "run_crawl() can run only once per Python process (Twisted's reactor cannot "
            "restart); run each crawl in its own process: python -m monitor.crawl.runner"
        )

    target = day_dir(Path(data_root), source.name, day).resolve()
    job = CrawlJob(job_dir(Path(data_root), source.name, day).resolve())
    with job.locked(f"{source.name} {day}"):
        job.start(fresh=fresh)
        remove_stale_temporaries(target)

        scrapy_settings = Settings()
        scrapy_settings.setmodule(crawl_settings, priority="project")
        if source.render == "browser":
            scrapy_settings.setdict(
                playwright_settings(source, scrapy_settings), priority="project"
            )
            isolate_driver_from_signals()
        if settings:
            scrapy_settings.setdict(dict(settings), priority="cmdline")
        scrapy_settings.set(DAY_DIR_SETTING, str(target), priority="cmdline")
        # The one content-addressed image store, shared with the image stage.
        scrapy_settings.set(
            "FILES_STORE", str(Path(data_root).resolve() / IMAGES_STORE_DIR), priority="cmdline"
        )
        scrapy_settings.set("JOBDIR", str(job.path), priority="cmdline")
        scrapy_settings.set(PARTS_SETTING, str(job.parts_root), priority="cmdline")
        scrapy_settings.set(RUN_PART_SETTING, job.run_part, priority="cmdline")

        _crawl_started = True
        process = CrawlerProcess(scrapy_settings)
        crawler = process.create_crawler(ListingSpider)
        failures: list[Any] = []
        process.crawl(crawler, source=source, terms=terms, day=day).addErrback(failures.append)
        process.start()
        if failures:
            failures[0].raiseException()

        raw = crawler.stats.get_stats() if crawler.stats else {}
        stats = summarize_stats(raw, source.name, day)
        stats_path = target / STATS_FILE
        if stats["finish_reason"] == "finished":
            stats = merge_stats(job.part_stats(), stats)
            write_json_atomically(stats_path, stats)
            job.remove()
        else:
            job.suspend(stats)
    browser = source.render == "browser"
    return CrawlSummary(
        source=source.name,
        day=day,
        listings_path=target / LISTINGS_FILE,
        warc_path=target / WARC_FILE,
        stats_path=stats_path,
        stats=stats,
        dom_dir=target / DOM_DIR if browser else None,
        screenshots_dir=target / SCREENSHOTS_DIR if browser else None,
        job_dir=job.path if stats["finish_reason"] != "finished" else None,
        resumed=job.resumed,
        images_path=target / IMAGES_FILE,
    )


def parse_setting_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """`NAME=VALUE` pairs as a settings dict; VALUE is JSON if it parses (0, 2.5, true)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--set: expected NAME=VALUE, got {pair!r}")
        try:
            out[name.strip()] = json.loads(value)
        except ValueError:
            out[name.strip()] = value
    return out


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
    parser.add_argument("--fresh", action="store_true",
                        help="start over instead of resuming an interrupted crawl of the day")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a Scrapy setting, as `scrapy crawl -s` does "
                        "(VALUE is read as JSON when it parses, else as text)")
    args = parser.parse_args(argv)
    try:
        overrides = parse_setting_overrides(args.set)
        source = load_source(args.source)
        day = parse_day(args.date) or today()
        summary = run_crawl(source, day, data_dir(args.data), args.term, fresh=args.fresh,
                            settings=overrides)
    except UserError as exc:
        print(str(exc).splitlines()[0] if str(exc) else "error", file=sys.stderr)
        return 1
    print(json.dumps(summary.to_dict(), ensure_ascii=False), flush=True)
    reason = summary.stats["finish_reason"]
    if reason != "finished":
        print(
            f"crawl did not finish ({reason}); the day's files were left as they were; "
            f"{summary.stats['items']} listings kept in {summary.job_dir}: run the same "
            "command again to resume",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
