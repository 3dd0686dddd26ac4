"""Item pipelines: validate, de-duplicate, write the day's listings.

Order (settings.ITEM_PIPELINES): validation, then de-duplication, then the
JSON Lines writer. Validation goes through `monitor.listing.parse_listing`,
the same function that checks a feed line, so the raw zone only ever holds
listings the warehouse will accept. The page evidence (WARC) is written by
`middlewares.WarcEvidenceMiddleware`, which sees every listing page, including
those that yield no item.

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
from monitor.crawl.rawzone import LISTINGS_FILE, StagedFile, crawl_day_dir
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
        return ListingItem(listing.to_record())


class DedupeListingPipeline(_CrawlerComponent):
    """Keep the first item per listing_id within a crawl.

    Scrapy's dupefilter already skips a URL seen before; this catches one
    listing reached under two URLs (tracking parameters, another category).
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.seen: set[str] = set()

    def open_spider(self) -> None:
        self.seen.clear()

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


class JsonLinesWriterPipeline(_CrawlerComponent):
    """Write each listing as one JSON line to the day's `listings.jsonl`.

    The lines go to a staged file that replaces the day's file when the crawl
    finished (a re-run of the day replaces, never appends); an interrupted
    crawl leaves the previous file untouched.
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
        line = json.dumps(dict(item), ensure_ascii=False, separators=(",", ":"))
        self.staged.handle.write(line + "\n")
        return item

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.staged is None:
            return
        if reason == "finished":
            self.staged.commit()
        else:
            logger.warning("Crawl ended (%s): the day's listings file is left as it was", reason)
            self.staged.discard()
        self.staged = None
