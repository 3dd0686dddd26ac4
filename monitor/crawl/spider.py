"""The one generic spider: search a marketplace for terms, read each listing page.

Everything marketplace-specific comes from the SourceConfig (DESIGN.md, "A
source config"). A listing page is read from its schema.org Product in
JSON-LD, then microdata, then OpenGraph, each filling what the previous left
empty; a `fields` selector that matches wins for its field.

A `render: browser` source is read the same way, from the DOM Chromium
rendered (scrapy-playwright makes it the response body), so a page whose
listing is filled in by JavaScript yields the same fields as a static one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import extruct
import scrapy
from extruct.utils import parse_html
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.html import remove_tags

from monitor.config import TZ
from monitor.crawl.browser import (
    DEFAULT_WAIT_MS,
    WAIT_TIMEOUT_SETTING,
    page_meta,
    require_chromium,
)
from monitor.crawl.items import ListingItem
from monitor.crawl.middlewares import EVIDENCE, PAGE_KIND, RENDERED
from monitor.crawl.sources import SourceConfig, is_xpath
from monitor.errors import UserError

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# spider.state key (kept in JOBDIR by Scrapy's SpiderState): requests an
# interrupted run could not finish, as (url, "search" | "detail").
UNFINISHED = "unfinished"

STRUCTURED_SYNTAXES = ("json-ld", "microdata", "opengraph")
PRODUCT_TYPES = frozenset({"Product", "IndividualProduct", "ProductGroup", "ProductModel"})
CNY = frozenset({"CNY", "RMB", "CNH"})
_NUMBER_RE = re.compile(r"\d[\d,]*(?:\.\d+)?")


def crawl_timestamp(day: date, now: datetime | None = None) -> datetime:
    """The `crawled_at` of a listing crawled for `day`, in Asia/Shanghai.

    Today's crawl is stamped now; a backfill of a past (or future) day is
    stamped with that day at the current time of day, so its listings land on
    the day they were crawled for (the crawl day is the date in Shanghai).
    """
    current = (now or datetime.now(TZ)).astimezone(TZ).replace(microsecond=0)
    if current.date() == day:
        return current
    return datetime.combine(day, current.timetz())


def check_crawlable(source: SourceConfig, terms: Sequence[str]) -> list[str]:
    """The cleaned search terms, or a UserError when this source cannot be crawled now."""
    where = source.path or source.name
    if not source.crawlable:
        raise UserError(
            f"{where}: field 'search_url' is required to crawl "
            "(a source file without it describes a feed)"
        )
    if source.render == "browser":
        # Fail before any request: a browser source without Chromium would
        # otherwise fail on every page, deep inside the download handler.
        require_chromium(source)
    cleaned = [t for t in (str(t).strip() for t in terms) if t]
    if not cleaned:
        raise UserError(f"{where}: no search terms to crawl")
    return cleaned


class ListingSpider(scrapy.Spider):
    """Search `source` for each term, follow listing links and pagination, yield ListingItems."""

    name = "listings"

    def __init__(
        self, source: SourceConfig, terms: Sequence[str], day: date, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.terms = check_crawlable(source, terms)
        self.day = day
        # Scrapy's OffsiteMiddleware reads this: links to other hosts are not followed.
        self.allowed_domains = list(source.allowed_domains)
        self.browser = source.render == "browser"
        self.wait_timeout_ms = float(DEFAULT_WAIT_MS)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.wait_timeout_ms = crawler.settings.getfloat(WAIT_TIMEOUT_SETTING, DEFAULT_WAIT_MS)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        # A resumed crawl first retries what its interrupted run was fetching when
        # it stopped and could not finish (see `on_error`): the dupefilter counts
        # those as seen, so without this they would be lost.
        for url, kind in getattr(self, "state", {}).pop(UNFINISHED, []):
            callback = self.parse_detail if kind == "detail" else self.parse
            yield scrapy.Request(url, callback=callback, errback=self.on_error,
                                 meta=self._meta(kind), dont_filter=True)
        for term in self.terms:
            url = self.source.search_request_url(term)
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error,
                                 meta=self._meta("search"))

    def on_error(self, failure: Failure) -> None:
        """A request failed for good: log it; if the crawl is stopping, keep it for the resume.

        On SIGINT/SIGTERM Scrapy lets the requests in flight finish, but some
        may fail all the same (the server, the network or the browser going
        away at the same moment). The dupefilter already counts them as seen,
        so they are remembered in the spider state, which Scrapy keeps in
        JOBDIR, and fetched again when the crawl resumes.
        """
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(IgnoreRequest):
            # robots.txt, offsite, a forbidden host: counted by their middlewares.
            # HttpError (a response Scrapy does not pass on) is an IgnoreRequest too.
            if failure.check(HttpError):
                status = failure.value.response.status
                self.logger.info("Ignoring response <%s %s>", status, request.url)
            return
        engine = self.crawler.engine
        if engine is not None and not engine.running and hasattr(self, "state"):
            kind = request.meta.get(PAGE_KIND, "detail")
            self.state.setdefault(UNFINISHED, []).append((request.url, kind))
            self.crawler.stats.inc_value("monitor/unfinished_at_shutdown")
            self.logger.info("Stopping: %s will be fetched again on resume", request.url)
            return
        self.logger.error("Request failed: %s (%s)", request.url, failure.getErrorMessage())

    def _meta(self, kind: str) -> dict[str, Any]:
        """Request meta for a search or detail page.

        A browser source's pages also get scrapy-playwright's keys: render in
        Chromium, wait for the content, screenshot listing pages (browser.py).
        """
        meta: dict[str, Any] = {PAGE_KIND: kind}
        if self.browser:
            meta.update(page_meta(self.source, kind, self.wait_timeout_ms))
        return meta

    def parse(self, response: Response, **kwargs: Any) -> Iterator[scrapy.Request]:
        """A search page: follow every listing link and the next page (the dupefilter dedupes)."""
        if not isinstance(response, TextResponse):
            self.logger.warning("Search page is not text, skipped: %s", response.url)
            return
        yield from response.follow_all(
            css=self.source.listing_links,
            callback=self.parse_detail,
            errback=self.on_error,
            meta=self._meta("detail"),
        )
        if self.source.next_page:
            yield from response.follow_all(
                css=self.source.next_page,
                callback=self.parse,
                errback=self.on_error,
                meta=self._meta("search"),
            )

    def parse_detail(self, response: Response) -> Iterator[ListingItem]:
        """A listing page: one item, or nothing (logged, counted) when it has no title."""
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("monitor/pages")
        if not isinstance(response, TextResponse):
            self.logger.warning("Listing page is not text, skipped: %s", response.url)
            stats.inc_value("item_dropped_reasons_count/not_html")
            return

        rendered = response.meta.get(RENDERED)
        if rendered is not None and rendered.get("waited") == "timeout":
            self.logger.warning("Listing did not appear in time, page kept as shown: %s",
                                response.url)
            stats.inc_value("monitor/browser_wait_timeout")

        values = read_structured(response)
        for name, selector in self.source.fields.items():
            picked = select(response, selector, many=name == "image_urls")
            if picked:
                values[name] = picked

        title = _clean(values.get("title"))
        if not title:
            self.logger.warning("Listing page has no title, skipped: %s", response.url)
            stats.inc_value("item_dropped_reasons_count/no_title")
            return

        price, problem = parse_price(values.get("price"), values.get("currency"))
        if problem:
            stats.inc_value(f"monitor/price_{problem}")

        evidence = response.meta.get(EVIDENCE) or {
            "sha256": hashlib.sha256(response.body).hexdigest(),
            "warc_path": "",
            "captured_at": "",
        }
        images = values.get("image_urls") or []
        yield ListingItem(
            source=self.source.name,
            listing_id=_clean(values.get("listing_id")) or listing_id_from_url(response.url),
            url=response.url,
            title=title,
            description=_clean(values.get("description")),
            price=price,
            quantity=_clean(values.get("quantity")),
            seller_id=_clean(values.get("seller_id")),
            seller_name=_clean(values.get("seller_name")),
            ship_from=_clean(values.get("ship_from")),
            image_urls=absolute_urls(response, images),
            crawled_at=crawl_timestamp(self.day).isoformat(),
            evidence=dict(evidence),
            rendered=rendered,
        )


def listing_id_from_url(url: str) -> str:
    """The last non-empty path segment of the URL (DESIGN.md: the default listing id)."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return segments[-1] if segments else ""


def select(response: TextResponse, selector: str, many: bool = False) -> Any:
    """Apply a `fields` selector: XPath if it starts with / or (, CSS otherwise.

    Returns the first non-empty value (all of them when `many`); a selector
    that matches elements rather than text yields their text content.
    """
    found = response.xpath(selector) if is_xpath(selector) else response.css(selector)
    values = []
    for raw in found.getall():
        text = remove_tags(raw) if raw.lstrip().startswith("<") else raw
        text = " ".join(text.split())
        if text:
            values.append(text)
    if many:
        return values
    return values[0] if values else ""


def read_structured(response: TextResponse) -> dict[str, Any]:
    """Listing values from JSON-LD, then microdata, then OpenGraph (first non-empty wins)."""
    try:
        tree = parse_html(response.body, encoding=response.encoding)
    except Exception:  # an unparsable page has no structured data; fields may still match
        return {}
    values: dict[str, Any] = {}
    for syntax in STRUCTURED_SYNTAXES:
        try:
            data = extruct.extract(
                tree,
                base_url=response.url,
                syntaxes=[syntax],
                uniform=True,
                with_og_array=True,
            )
        except Exception as exc:  # broken markup of one syntax must not lose the others
            logger.info("Could not read %s on %s: %s", syntax, response.url, exc)
            continue
        found: dict[str, Any] = {}
        if syntax == "opengraph":
            for og in data.get(syntax, []):
                found = _from_opengraph(og)
                if found:
                    break
        else:
            product = _first_product(data.get(syntax, []))
            if product is not None:
                found = _from_product(product)
        for key, value in found.items():
            if value not in (None, "", []) and values.get(key) in (None, "", []):
                values[key] = value
    return values


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type") or node.get("type") or []
    if isinstance(raw, str):
        raw = [raw]
    return {re.split(r"[/:#]", str(t))[-1] for t in raw if t}


def _first_product(items: list[Any]) -> dict[str, Any] | None:
    """The first schema.org Product among the items (looking into @graph too)."""
    stack = list(items)
    while stack:
        node = stack.pop(0)
        if isinstance(node, list):
            stack[:0] = node
            continue
        if not isinstance(node, dict):
            continue
        if _types(node) & PRODUCT_TYPES:
            return node
        graph = node.get("@graph")
        if isinstance(graph, list):
            stack[:0] = graph
    return None


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _name(value: Any) -> str:
    value = _first(value)
    if isinstance(value, dict):
        return _clean(value.get("name"))
    return _clean(value)


def _from_product(product: dict[str, Any]) -> dict[str, Any]:
    offer = _first(product.get("offers"))
    offer = offer if isinstance(offer, dict) else {}
    price = offer.get("price")
    if price in (None, ""):
        price = offer.get("lowPrice")
    currency = offer.get("priceCurrency")
    spec = _first(offer.get("priceSpecification"))
    if price in (None, "") and isinstance(spec, dict):
        price, currency = spec.get("price"), spec.get("priceCurrency") or currency
    seller = _first(offer.get("seller"))
    seller_id = ""
    if isinstance(seller, dict):
        # schema.org has no seller-id property; `identifier` is the standard place for one.
        seller_id = _clean(_first(seller.get("identifier")))
    return {
        "title": _name(product.get("name")),
        "description": _clean(_first(product.get("description"))),
        "price": price,
        "currency": currency,
        "seller_name": _name(seller),
        "seller_id": seller_id,
        "image_urls": _image_list(product.get("image")),
    }


def _image_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    urls = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("contentUrl") or item.get("url")
        if isinstance(item, str) and item.strip():
            urls.append(item.strip())
    return urls


def _from_opengraph(og: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": _clean(_first(og.get("og:title"))),
        "description": _clean(_first(og.get("og:description"))),
        "price": _first(og.get("product:price:amount") or og.get("og:price:amount")),
        "currency": _first(og.get("product:price:currency") or og.get("og:price:currency")),
        "image_urls": _image_list(og.get("og:image")),
    }


def parse_price(value: Any, currency: Any = None) -> tuple[float | None, str]:
    """A price in CNY from a number or text like "¥1,299.00", and why not if not.

    A price that cannot be read, or is in another currency, becomes None (and
    the listing is kept): DESIGN.md prices are CNY, and a strange price is no
    reason to lose a suspect listing.
    """
    if value is None or value == "":
        return None, ""
    if isinstance(currency, str) and currency.strip() and currency.strip().upper() not in CNY:
        return None, "not_cny"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (float(value), "") if value >= 0 else (None, "unreadable")
    match = _NUMBER_RE.search(str(value))
    if not match:
        return None, "unreadable"
    return float(match.group(0).replace(",", "")), ""


def absolute_urls(response: Response, urls: Sequence[str]) -> list[str]:
    """Resolve against the page URL; keep http(s) only (no data: or javascript: URLs)."""
    out: list[str] = []
    for url in urls:
        full = response.urljoin(url.strip())
        if urlsplit(full).scheme in ("http", "https") and full not in out:
            out.append(full)
    return out


def _clean(value: Any) -> str:
    """Text with runs of whitespace (incl. full-width spaces) collapsed; '' for nothing."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = next((v for v in value if v not in (None, "")), "")
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or ""
    return " ".join(str(value).split())
