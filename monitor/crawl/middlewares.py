"""Downloader middlewares: refuse dangerous hosts, keep listing pages as evidence.

(And let an image host's robots.txt be read, see ImageHostRobotsTxtMiddleware.)
The first two sit in the downloader chain because that is where Scrapy itself handles
requests and responses before a spider sees them (compare Scrapy's own
OffsiteMiddleware and HttpCacheMiddleware): a blocked request never leaves the
process, and the evidence is the response exactly as the spider will parse it.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from typing import TYPE_CHECKING, Any

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from monitor.crawl.browser import capture_result
from monitor.crawl.rawzone import WARC_FILE, RunParts, StagedFile, crawl_day_dir

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# Request.meta keys shared with the spider.
PAGE_KIND = "monitor_page"  # "search" or "detail"
EVIDENCE = "monitor_evidence"  # set on detail requests once their response is kept
RENDERED = "monitor_rendered"  # browser pages: {"dom", "screenshot", "waited"} for the spider

# The WARC header carrying the SHA-256 of the record's HTTP body (the bytes the
# spider parsed), so the listing's evidence.sha256 can be checked against it.
SHA256_HEADER = "WARC-Monitor-SHA256"

METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    }
)


def is_forbidden_host(host: str) -> bool:
    """True for cloud-metadata hosts and link-local addresses (169.254.0.0/16, fe80::/10).

    Only literal hosts are judged: a name that *resolves* to such an address is
    not caught here (that needs a resolver-level check).
    """
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        return False
    if host in METADATA_HOSTS:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or str(address) in METADATA_HOSTS


class BlockPrivateHostsMiddleware:
    """Refuse requests to link-local and cloud-metadata hosts with IgnoreRequest.

    A listing page controls the links the spider follows; without this a
    hostile page could point the crawler at the metadata service of the
    machine it runs on. Placed before the robots.txt middleware so that not
    even robots.txt is fetched from such a host. Counts `blocked_host/count`.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.hosts_seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        if not is_forbidden_host(host):
            return
        if host not in self.hosts_seen:
            self.hosts_seen.add(host)
            logger.warning("Refused request to forbidden host %r: %s", host, request)
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("blocked_host/count")
        raise IgnoreRequest(f"forbidden host {host!r}")


class ImageHostRobotsTxtMiddleware:
    """Let the robots.txt request of an image_domains host through the offsite filter.

    Listing images on a source's `image_domains` hosts are requested with
    `allow_offsite` (pipelines.ListingImagesPipeline), but the robots.txt
    request Scrapy's RobotsTxtMiddleware makes for such a host has no such
    flag, so OffsiteMiddleware would drop it and the host's robots.txt would
    silently never be read. Placed before OffsiteMiddleware (50).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("dont_obey_robotstxt"):
            return
        parts = urlparse_cached(request)
        if parts.path != "/robots.txt":
            return
        source = getattr(self.crawler.spider, "source", None)
        host = (parts.hostname or "").rstrip(".").lower()
        for domain in getattr(source, "image_domains", ()):
            if host == domain or host.endswith("." + domain):
                request.meta["allow_offsite"] = True
                return


class WarcEvidenceMiddleware:
    """Write every fetched listing (detail) page to the day's WARC file.

    It sits below RetryMiddleware and HttpCompressionMiddleware in the chain,
    so it sees the final response of a request (after retries and redirects)
    with its body decoded. For a page fetched over HTTP that is the body the
    spider parses and hashes. For a page rendered in a browser the record
    holds the bytes the server sent for the page itself (captured from the
    browser's navigation response), and the rendered DOM the spider parses,
    with the screenshot, is handed on in `request.meta[RENDERED]` to be kept
    as files (`pipelines.RenderedEvidencePipeline`).

    The record's SHA-256 and capture time are put in `request.meta[EVIDENCE]`
    for the spider to copy into the listing. The file is staged and replaces
    the day's file only when the crawl finished (see `rawzone`); an
    interrupted crawl keeps it as its part for the resumed run.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.staged: StagedFile | None = None
        self.writer: WARCWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        mw = cls(crawler)
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(mw.spider_closed, signal=signals.spider_closed)
        return mw

    def spider_opened(self, spider: Spider) -> None:
        path = crawl_day_dir(self.crawler.settings, spider) / WARC_FILE
        self.staged = StagedFile(path)
        self.writer = WARCWriter(self.staged.handle, gzip=True)
        info = {
            "software": self.crawler.settings.get("USER_AGENT", ""),
            "format": "WARC File Format 1.0",
            "source": getattr(getattr(spider, "source", None), "name", spider.name),
            "crawl-day": str(getattr(spider, "day", "")),
            "robots": "obey" if self.crawler.settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        }
        self.writer.write_record(self.writer.create_warcinfo_record(WARC_FILE, info))

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.staged is None:
            return
        self.staged.finish(reason, RunParts.from_settings(self.crawler.settings))
        self.staged = self.writer = None

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get(PAGE_KIND) != "detail" or self.writer is None:
            return response
        assert self.staged is not None
        assert self.crawler.stats is not None
        captured = datetime.now(UTC).replace(microsecond=0)
        body, http_headers = response.body, _http_headers(response)
        capture = capture_result(request.meta) if "playwright" in response.flags else None
        if capture is not None:
            if capture.get("body") is not None:
                body = capture["body"]
                http_headers = _captured_headers(capture, len(body))
            else:
                self.crawler.stats.inc_value("monitor/browser_body_missing")
            request.meta[RENDERED] = {
                "dom": response.body,
                "screenshot": capture.get("screenshot") or b"",
                "waited": capture.get("waited", ""),
            }
        sha256 = hashlib.sha256(body).hexdigest()
        record = self.writer.create_warc_record(
            response.url,
            "response",
            payload=BytesIO(body),
            length=len(body),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Date": datetime_to_iso_date(captured.replace(tzinfo=None)),
                SHA256_HEADER: sha256,
            },
        )
        self.writer.write_record(record)
        request.meta[EVIDENCE] = {
            "sha256": sha256,
            "warc_path": str(self.staged.final),
            "captured_at": captured.isoformat(),
        }
        self.crawler.stats.inc_value("monitor/warc_records")
        return response


def _captured_headers(capture: dict[str, Any], length: int) -> StatusAndHeaders:
    """Status line and headers of a browser's navigation response, fitted to its decoded body.

    The browser hands over the body without its transfer and content
    codings, so the headers describing those are dropped, as for HTTP pages.
    """
    headers = [
        (name, value)
        for name, value in capture.get("headers") or ()
        if name.lower() not in ("transfer-encoding", "content-length", "content-encoding")
    ]
    headers.append(("Content-Length", str(length)))
    status = int(capture.get("status") or 200)
    phrase = capture.get("status_text") or ""
    if not phrase:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
    return StatusAndHeaders(f"{status} {phrase}".strip(), headers, protocol="HTTP/1.1")


def _http_headers(response: Response) -> StatusAndHeaders:
    """The response's status line and headers, made consistent with the decoded body.

    Twisted has already removed any chunked transfer coding and Scrapy any
    content coding it understood, so those headers and the length would no
    longer describe the stored body; a Content-Encoding Scrapy left alone is kept.
    """
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = ""
    headers: list[tuple[str, str]] = []
    for name, values in response.headers.items():
        key = _text(name)
        if key.lower() in ("transfer-encoding", "content-length"):
            continue
        headers.extend((key, _text(v)) for v in values)
    headers.append(("Content-Length", str(len(response.body))))
    protocol = getattr(response, "protocol", None) or "HTTP/1.1"
    return StatusAndHeaders(f"{response.status} {phrase}".strip(), headers, protocol=protocol)


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


class RetryBackoffMiddleware:
    """Wait before sending a retried request: exponential backoff with a cap.

    Scrapy's RetryMiddleware re-schedules a request after a 5xx, 429 or a
    timeout at once, which hammers a marketplace that is already shedding load.
    A retried request carries `retry_times` in its meta; this waits
    RETRY_BACKOFF_BASE × 2^(retry_times − 1) seconds (at most
    RETRY_BACKOFF_MAX) before letting it through, without blocking other
    requests (an asyncio sleep on Scrapy's asyncio reactor).
    """

    def __init__(self, crawler: Crawler, sleep: Callable[[float], Awaitable[Any]] | None = None):
        self.base = crawler.settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = crawler.settings.getfloat("RETRY_BACKOFF_MAX", 30.0)
        self.stats = crawler.stats
        self._sleep = sleep or asyncio.sleep

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def delay_for(self, request: Request) -> float:
        """Seconds to wait before this request (0 for a first attempt)."""
        retries = int(request.meta.get("retry_times", 0) or 0)
        if retries <= 0 or self.base <= 0:
            return 0.0
        return min(self.cap, self.base * 2 ** (retries - 1))

    async def process_request(self, request: Request) -> None:
        delay = self.delay_for(request)
        if delay:
            if self.stats is not None:
                self.stats.inc_value("retry/backoff_seconds", delay)
            await self._sleep(delay)
