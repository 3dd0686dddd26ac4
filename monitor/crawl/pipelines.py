"""Item pipelines: validate, de-duplicate, write the day's listings.

Order (settings.ITEM_PIPELINES): validation, then de-duplication, then the
rendered-page evidence (DOM and screenshot files of a browser page), then the
listing images (Scrapy's files pipeline, into the shared image store), then the
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

import hashlib
import json
import logging
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy import Request, Spider, signals
from scrapy.exceptions import DownloadCancelledError, DropItem, IgnoreRequest
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.media import FileException
from twisted.internet.defer import CancelledError

from monitor.crawl.items import ListingItem
from monitor.crawl.rawzone import (
    DOM_DIR,
    IMAGES_FILE,
    LISTINGS_FILE,
    SCREENSHOTS_DIR,
    RunParts,
    StagedFile,
    StagedFolder,
    crawl_day_dir,
    crawl_images_store,
    file_stem,
)
from monitor.image.fetch import allowed
from monitor.image.store import keep, path_for
from monitor.listing import ListingError, parse_listing

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.pipelines.media import MediaPipeline

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


IMAGE_STATS_PREFIX = "monitor/images/"
IMAGE_MAXSIZE_SETTING = "MONITOR_IMAGE_MAXSIZE"
# File name extensions taken from an image URL; the image stage names JPEG "jpg" too.
IMAGE_EXTENSIONS = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp",
                    "bmp": "bmp"}


def image_extension(url: str) -> str:
    """The stored file's extension: the URL path's image suffix, else "bin"."""
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower().lstrip(".")
    return IMAGE_EXTENSIONS.get(suffix, "bin")


def image_path(root: Path, url: str, data: bytes) -> str:
    """`<sha256[:2]>/<sha256>.<ext>`: where bytes are in the content-addressed image store."""
    return path_for(root, data, image_extension(url)).relative_to(root).as_posix()


def download_failure_reason(error: BaseException | None, maxsize: int) -> str:
    """A short reason for an image that could not be downloaded."""
    if isinstance(error, FileException) and str(error):
        return str(error)
    if isinstance(error, (DownloadCancelledError, CancelledError)):
        return f"too large (over {maxsize} bytes)"
    if isinstance(error, IgnoreRequest):
        return str(error) or "request ignored"
    if error is None:
        return "download failed"
    name = type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{name}: {text}"[:300] if text else name


class ListingImagesPipeline(FilesPipeline):
    """Fetch each listing's `image_urls` during the crawl into the shared image store.

    A FilesPipeline, not Scrapy's ImagesPipeline: that one re-encodes every
    image to JPEG, and the bytes the marketplace served are the evidence. The
    bytes are kept as they came, by content, under
    `<data>/images/<sha256[:2]>/<sha256>.<ext>` (FILES_STORE), the store the
    image stage (`monitor.image.stage`) uses for feeds too; that stage decodes,
    validates and hashes them, nothing is decoded here.

    A URL the source may not fetch (`monitor.image.fetch.allowed`: a host in
    neither allowed_domains nor image_domains, link-local, not http) is not
    requested at all. Allowed requests carry `allow_offsite` (an image_domains
    host is outside the spider's allowed_domains, and Scrapy 2.19's
    OffsiteMiddleware filters media requests too) and a `download_maxsize`
    (MONITOR_IMAGE_MAXSIZE, 10 MB). Redirects are not followed
    (MEDIA_ALLOW_REDIRECTS is off): a 3xx is an error, so no request leaves the
    allowed hosts.

    Each image URL is tried once per crawl (a resumed crawl knows its earlier
    runs' URLs) and gets one line in the day's `images.jsonl`:
    {"url", "status": "ok"|"error"|"refused", "reason" ('' when ok),
    "sha256" and "path" (absolute; '' unless ok)}, counted under
    `monitor/images/<status>`. The file is staged like listings.jsonl. An
    image that failed because the crawl was being stopped gets no line, so a
    resumed crawl (or the image stage) tries it again.
    """

    FILES_URLS_FIELD = "image_urls"

    def __init__(self, store_uri: str, download_func: None = None, *, crawler: Crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        self.images_root = Path(store_uri)
        self.maxsize = crawler.settings.getint(IMAGE_MAXSIZE_SETTING, 10 * 1024 * 1024)
        self.manifest: StagedFile | None = None
        self.seen: set[str] = set()
        self.pending: dict[int, list[tuple[str, str]]] = {}  # id(item) → (url, request url)
        self.failures: dict[str, str] = {}  # request url → why its download failed
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        cls._update_stores(crawler.settings)
        store = crawl_images_store(crawler.settings).resolve()
        return cls(str(store), crawler=crawler)

    def open_spider(self) -> None:
        super().open_spider()
        parts = RunParts.from_settings(self.crawler.settings)
        self.seen.clear()
        for path in parts.files(IMAGES_FILE):
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    try:
                        self.seen.add(str(json.loads(line)["url"]))
                    except (ValueError, KeyError, TypeError):
                        continue
        day = crawl_day_dir(self.crawler.settings, self.crawler.spider)
        self.manifest = StagedFile(day / IMAGES_FILE, "w")

    def record(self, url: str, status: str, reason: str = "", sha256: str = "",
               path: str = "") -> None:
        """One manifest line and one count for an image URL."""
        assert self.manifest is not None
        assert self.crawler.stats is not None
        line = {"url": url, "status": status, "reason": reason, "sha256": sha256, "path": path}
        self.manifest.handle.write(
            json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
        )
        self.crawler.stats.inc_value(IMAGE_STATS_PREFIX + status)
        if status != "ok":
            logger.info("Image %s (%s): %s", status, reason, url)

    def get_media_requests(self, item: Any, info: MediaPipeline.SpiderInfo) -> list[Request]:
        source = getattr(info.spider, "source", None)
        urls = ItemAdapter(item).get(self.files_urls_field) or []
        requests: list[Request] = []
        pending: list[tuple[str, str]] = []
        for url in urls if isinstance(urls, list) else []:
            if not isinstance(url, str) or url in self.seen:
                continue
            self.seen.add(url)
            refusal = allowed(url, source)
            if refusal:
                self.record(url, "refused", refusal)
                continue
            try:
                request = Request(
                    url,
                    callback=NO_CALLBACK,
                    meta={"download_maxsize": self.maxsize, "allow_offsite": True},
                )
            except ValueError as exc:
                self.record(url, "error", f"bad URL ({exc})")
                continue
            requests.append(request)
            pending.append((url, request.url))
        self.pending[id(item)] = pending
        return requests

    def media_to_download(self, request: Request, info: MediaPipeline.SpiderInfo, *,
                          item: Any = None) -> None:
        """Always download: the store is keyed by content, unknown until the bytes are here."""
        return None

    async def media_downloaded(self, response: Response, request: Request,
                               info: MediaPipeline.SpiderInfo, *, item: Any = None) -> Any:
        if response.status != 200:
            raise FileException(f"HTTP {response.status}")
        if not response.body:
            raise FileException("empty response")
        return await super().media_downloaded(response, request, info, item=item)

    def media_failed(self, failure: Any, request: Request,  # type: ignore[override]
                     info: MediaPipeline.SpiderInfo) -> None:
        # Returning instead of raising: MediaPipeline logs every raised failure
        # at ERROR with a traceback; a missing image is a line in the manifest.
        self.failures[request.url] = download_failure_reason(failure.value, self.maxsize)

    def file_path(self, request: Request, response: Response | None = None,
                  info: MediaPipeline.SpiderInfo | None = None, *, item: Any = None) -> str:
        if response is None:
            raise ValueError("images are stored by content: the path needs the response")
        return image_path(self.images_root, request.url, response.body)

    def file_downloaded(self, response: Response, request: Request,
                        info: MediaPipeline.SpiderInfo, *, item: Any = None) -> str:
        """Keep the bytes as served (once per content; written atomically); returns the SHA-256."""
        keep(self.images_root, response.body, image_extension(request.url))
        return hashlib.sha256(response.body).hexdigest()

    def item_completed(self, results: list[Any], item: Any,
                       info: MediaPipeline.SpiderInfo) -> Any:
        pending = self.pending.pop(id(item), [])
        for (url, request_url), (ok, value) in zip(pending, results, strict=False):
            reason = self.failures.pop(request_url, "")
            if ok and isinstance(value, dict) and value.get("checksum"):
                path = str(self.images_root / value["path"])
                self.record(url, "ok", "", value["checksum"], path)
                continue
            if not self.crawler.crawling:
                continue  # stopped mid-download: tried again on resume or by the image stage
            if not reason:
                error = getattr(value, "value", None) if not ok else None
                reason = download_failure_reason(error, self.maxsize)
            self.record(url, "error", reason)
        return item

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.manifest is None:
            return
        self.manifest.finish(reason, RunParts.from_settings(self.crawler.settings))
        self.manifest = None
