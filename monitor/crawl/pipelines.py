"""Item pipelines: validate, de-duplicate, write the day's listings.

Order (settings.ITEM_PIPELINES): validation, then de-duplication, then the
rendered-page evidence (DOM and screenshot files of a browser page), then the
JSON Lines writer. Validation goes through `monitor.listing.parse_listing`,
the same function that checks a feed line, so the raw zone only ever holds
listings the warehouse will accept. The page evidence (WARC) is written by
`middlewares.WarcEvidenceMiddleware`, which sees every listing page, including
those that yield no item; the DOM and screenshot are kept per listing, so
they are written here, once the listing id is known and the listing kept.

A resumed crawl (rawzone.CrawlJob) continues a day that interrupted runs
began: de-duplication remembers the listings those runs wrote, and the
writers put their parts in front of this run's output when it finishes.

Every drop is counted under `item_dropped_reasons_count/<reason>` with a
snake_case reason (`invalid_<field>`, `duplicate_listing_id`; the spider adds
`no_title`). Scrapy's CoreStats also counts each drop under the exception's
class name, `item_dropped_reasons_count/DropListing`: that is the total of
the pipeline drops, not a reason of its own.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from scrapy import Spider, signals
from scrapy.exceptions import DropItem

from monitor.crawl.items import ListingItem
from monitor.crawl.rawzone import (
    DOM_DIR,
    LISTINGS_FILE,
    SCREENSHOTS_DIR,
    RunParts,
    StagedFile,
    StagedFolder,
    crawl_day_dir,
    file_stem,
)
from monitor.listing import ListingError, parse_listing

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

DROP_STATS_PREFIX = "item_dropped_reasons_count/"
_FIELD_IN_MESSAGE = re.compile(r"field '([a-z_]+)'")


class DropListing(DropItem):
    """An item left out of the day's listings; `reason` is the stats key suffix."""

    def __init__(self, reason: str, message: str, log_level: str = "WARNING") -> None:
        super().__init__(message, log_level=log_level)
        self.reason = reason


def drop_reason(error: ListingError) -> str:
    """`invalid_<field>` for the field parse_listing names, else `invalid_listing`."""
    match = _FIELD_IN_MESSAGE.search(str(error))
    return f"invalid_{match.group(1)}" if match else "invalid_listing"


class _CrawlerComponent:
    """Keeps the crawler (Scrapy 2.13+ no longer passes the spider to pipeline methods)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def count_drop(self, reason: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(DROP_STATS_PREFIX + reason)


class ValidateListingPipeline(_CrawlerComponent):
    """Check the item with parse_listing; pass on its canonical record, drop it if invalid."""

    def process_item(self, item: Any) -> ListingItem:
        spider = self.crawler.spider
        default_source = getattr(getattr(spider, "source", None), "name", None)
        try:
            listing = parse_listing(dict(item), default_source)
        except ListingError as exc:
            reason = drop_reason(exc)
            self.count_drop(reason)
            raise DropListing(reason, f"invalid listing at {item.get('url')}: {exc}") from None
        canonical = ListingItem(listing.to_record())
        if item.get("rendered") is not None:
            canonical["rendered"] = item["rendered"]
        return canonical


class DedupeListingPipeline(_CrawlerComponent):
    """Keep the first item per listing_id within a crawl.

    Scrapy's dupefilter already skips a URL seen before; this catches one
    listing reached under two URLs (tracking parameters, another category).
    A resumed crawl also knows the listings its interrupted runs wrote.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.seen: set[str] = set()

    def open_spider(self) -> None:
        self.seen.clear()
        for path in RunParts.from_settings(self.crawler.settings).files(LISTINGS_FILE):
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        self.seen.add(str(json.loads(line).get("listing_id")))

    def process_item(self, item: Any) -> Any:
        key = str(item.get("listing_id"))
        if key in self.seen:
            self.count_drop("duplicate_listing_id")
            raise DropListing(
                "duplicate_listing_id",
                f"listing {key} seen before, skipped: {item.get('url')}",
                log_level="INFO",
            )
        self.seen.add(key)
        return item


class RenderedEvidencePipeline(_CrawlerComponent):
    """Keep a browser page's rendered DOM and full-page screenshot as files of the listing.

    Files: `<day>/dom/<listing_id>.html` (the serialized rendered DOM, the
    bytes the spider parsed) and `<day>/screenshots/<listing_id>.png`; their
    paths and SHA-256 go into the listing's evidence (`dom_path`,
    `dom_sha256`, `screenshot_path`, `screenshot_sha256`). Like the other day
    files they are staged and put in place when the crawl finished, so a
    re-run replaces the day's files and leaves none from listings gone since.
    An item without `rendered` (an HTTP page) passes through untouched.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.dom: StagedFolder | None = None
        self.screenshots: StagedFolder | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def _folders(self) -> tuple[StagedFolder, StagedFolder]:
        """Created on the first browser page, so an HTTP crawl leaves no empty folders."""
        if self.dom is None or self.screenshots is None:
            day = crawl_day_dir(self.crawler.settings, self.crawler.spider)
            self.dom = StagedFolder(day / DOM_DIR)
            self.screenshots = StagedFolder(day / SCREENSHOTS_DIR)
        return self.dom, self.screenshots

    def process_item(self, item: Any) -> Any:
        rendered = item.pop("rendered", None)
        if not rendered:
            return item
        assert self.crawler.stats is not None
        dom, screenshots = self._folders()
        stem = file_stem(str(item["listing_id"]))
        evidence = dict(item.get("evidence") or {})
        path, digest = dom.write(f"{stem}.html", rendered["dom"])
        evidence.update(dom_path=str(path), dom_sha256=digest)
        self.crawler.stats.inc_value("monitor/dom_files")
        if rendered.get("screenshot"):
            path, digest = screenshots.write(f"{stem}.png", rendered["screenshot"])
            evidence.update(screenshot_path=str(path), screenshot_sha256=digest)
            self.crawler.stats.inc_value("monitor/screenshots")
        item["evidence"] = evidence
        return item

    def spider_closed(self, spider: Spider, reason: str) -> None:
        parts = RunParts.from_settings(self.crawler.settings)
        if self.dom is None and any(
            (p / DOM_DIR).is_dir() or (p / SCREENSHOTS_DIR).is_dir() for p in parts.earlier
        ):
            self._folders()  # an earlier run rendered pages: their files still go in place
        for folder in (self.dom, self.screenshots):
            if folder is not None:
                folder.finish(reason, parts)
        self.dom = self.screenshots = None


class JsonLinesWriterPipeline(_CrawlerComponent):
    """Write each listing as one JSON line to the day's `listings.jsonl`.

    The lines go to a staged file that replaces the day's file when the crawl
    finished (a re-run of the day replaces, never appends); an interrupted
    crawl leaves the previous file untouched and keeps its lines as its part
    of the job, put in front of the resumed run's lines when that finishes.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.staged: StagedFile | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.staged = StagedFile(crawl_day_dir(self.crawler.settings, spider) / LISTINGS_FILE, "w")

    def process_item(self, item: Any) -> Any:
        assert self.staged is not None
        record = {k: v for k, v in dict(item).items() if k != "rendered"}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        self.staged.handle.write(line + "\n")
        return item

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.staged is None:
            return
        self.staged.finish(reason, RunParts.from_settings(self.crawler.settings))
        self.staged = None
