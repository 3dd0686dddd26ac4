"""The crawl package: source files, the generic spider, pipelines, evidence, runner.

The crawls run as subprocesses (`python -m monitor.crawl.runner`) because
Twisted's reactor cannot restart within one Python process. They run against a
small fixture marketplace served by http.server on 127.0.0.1, so these tests do
not depend on the demo catalog and can check the server's request log.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import Settings

from monitor.config import TZ
from monitor.crawl import settings as crawl_settings
from monitor.crawl import sources
from monitor.crawl.browser import playwright_selector, wait_selectors
from monitor.crawl.items import ListingItem
from monitor.crawl.middlewares import BlockPrivateHostsMiddleware, is_forbidden_host
from monitor.crawl.pipelines import drop_reason
from monitor.crawl.rawzone import (
    PARTS_SETTING,
    RUN_PART_SETTING,
    CrawlJob,
    RunParts,
    StagedFile,
    StagedFolder,
    file_stem,
)
from monitor.crawl.runner import (
    format_stats,
    merge_stats,
    parse_setting_overrides,
    summarize_stats,
)
from monitor.crawl.sources import SourceConfig, bundled_sources, load_source, parse_source
from monitor.crawl.spider import (
    check_crawlable,
    crawl_timestamp,
    listing_id_from_url,
    parse_price,
)
from monitor.errors import UserError
from monitor.listing import FIELDS, ListingError, parse_listing

from .http_fixture import LoggingServer, read_warc

REPO = Path(__file__).resolve().parents[1]
DAY = date(2024, 3, 15)  # a past day: the crawl is a backfill
TERMS = ["goji", "枸杞"]

# --------------------------------------------------------------------------
# The fixture marketplace


def _page(head: str = "", body: str = "", title: str = "Item") -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{title}</title>{head}</head><body>{body}</body></html>"
    )


def _jsonld(product: dict[str, Any]) -> str:
    data = {"@context": "https://schema.org", "@type": "Product", **product}
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _shop(seller_id: str, name: str = "") -> str:
    return f'<div class="shop" data-seller-id="{seller_id}">{name}</div>'


def _search(links: list[str], next_href: str = "") -> str:
    items = "".join(f'<li><a class="item-link" href="{h}">item</a></li>' for h in links)
    nxt = f'<a class="next" href="{next_href}">next</a>' if next_href else ""
    return _page(body=f"<ul>{items}</ul>{nxt}", title="Search")


ITEM_1001 = _page(
    head=_jsonld(
        {
            "name": "宁夏枸杞 特级 500g",
            "description": "中宁 头茬 枸杞",
            "sku": "1001",
            "image": ["/img/1001-a.jpg", "https://img.example/1001-b.jpg"],
            "offers": {
                "@type": "Offer",
                "price": "59.00",
                "priceCurrency": "CNY",
                "seller": {"@type": "Organization", "name": "JSON-LD 店名"},
            },
        }
    ),
    body=(
        _shop("s-1001", "页面店铺")
        + '<em class="origin">宁夏 中卫 中宁县</em><span class="qty">500g</span>'
        + '<span class="price-now">¥39.90</span>'
    ),
)
ITEM_1002 = _page(  # JSON-LD only: nothing for the `fields` selectors to find
    head=_jsonld(
        {
            "name": "JSON-LD only goji",
            "description": "only structured data",
            "image": "/img/1002.jpg",
            "offers": {
                "price": 88,
                "priceCurrency": "CNY",
                "seller": {"name": "Only Shop", "identifier": "s-1002"},
            },
        }
    )
)
ITEM_1003 = _page(head=_jsonld({"name": "Flaky goji"}), body=_shop("s-1003", "Flaky Shop"))
ITEM_1004 = _page(body="<p>This listing was removed.</p>", title="Not found")  # no title
ITEM_1005 = _page(  # microdata only
    body=(
        '<div itemscope itemtype="https://schema.org/Product">'
        '<h1 itemprop="name">Microdata goji</h1>'
        '<div itemprop="offers" itemscope itemtype="https://schema.org/Offer">'
        '<span itemprop="price">45</span><meta itemprop="priceCurrency" content="CNY"></div>'
        "</div>" + _shop("s-1005", "Micro Shop")
    )
)
ITEM_1006 = _page(  # OpenGraph only
    head=(
        '<meta property="og:title" content="OG goji">'
        '<meta property="og:image" content="/img/1006.jpg">'
        '<meta property="product:price:amount" content="66">'
        '<meta property="product:price:currency" content="CNY">'
    ),
    body=_shop("s-1006", "OG Shop"),
)
ITEM_1009 = _page(head=_jsonld({"name": "No seller goji"}))  # invalid: no seller_id
ITEM_1010 = _page(
    head=_jsonld(
        {
            "name": "Second term goji",
            "image": [  # the ports are filled in when the page is served
                "http://127.0.0.2:CDN_PORT/img/cdn.png",  # an image_domains host
                "http://localhost:SHOP_PORT/img/refused.png",  # in neither list: never fetched
                "/img/big.png",  # over the size cap the crawl runs with
            ],
        }
    ),
    body=_shop("s-1010"),
)
PRIVATE = _page(head=_jsonld({"name": "Private"}), body=_shop("s-private"))
OFFSITE = _page(head=_jsonld({"name": "Offsite"}), body=_shop("s-offsite"))

DETAIL_PAGES = {
    "/item/1001": ITEM_1001,
    "/item/1002": ITEM_1002,
    "/flaky/1003": ITEM_1003,
    "/item/1004": ITEM_1004,
    "/item/1005": ITEM_1005,
    "/item/1006": ITEM_1006,
    "/item/1009": ITEM_1009,
    "/item/1010": ITEM_1010,
    "/private/item/9999": PRIVATE,
    "/item/7777": OFFSITE,
}
FETCHED_DETAIL = {  # every listing page the crawl must fetch (and keep in the WARC)
    "/item/1001",
    "/item/1001?from=p2",
    "/item/1002",
    "/flaky/1003",
    "/item/1004",
    "/item/1005",
    "/item/1006",
    "/item/1009",
    "/item/1010",
}
EXPECTED_LISTINGS = {"1001", "1002", "1003", "1005", "1006", "1010"}


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, "PNG")
    return buffer.getvalue()


PNG_SHOP = _png((200, 30, 30))  # served for /img/1002.jpg and /img/1006.jpg: one content
PNG_CDN = _png((30, 30, 200))
IMAGE_MAXSIZE = 4096  # the crawl's MONITOR_IMAGE_MAXSIZE: /img/big.png is larger


class ImageCdn(LoggingServer):
    """The source's image_domains host: 127.0.0.2, another loopback address."""

    def __init__(self) -> None:
        super().__init__("127.0.0.2")

    def respond(self, path: str, hits: int) -> tuple[int, str | bytes, str]:
        if path == "/img/cdn.png":
            return 200, PNG_CDN, "image/png"
        return 404, "not found", "text/plain"


class FixtureMarketplace(LoggingServer):
    """A marketplace on 127.0.0.1 that logs every request it gets, with its image host."""

    def __init__(self) -> None:
        super().__init__()
        self.cdn = ImageCdn()

    def start(self) -> str:
        self.cdn.start()
        return super().start()

    def stop(self) -> None:
        self.cdn.stop()
        super().stop()

    def page(self, path: str) -> str:
        """A listing page as served: DETAIL_PAGES with the image hosts' ports filled in."""
        page = DETAIL_PAGES[path].replace("CDN_PORT", str(self.cdn.port))
        return page.replace("SHOP_PORT", str(self.port))

    def respond(self, path: str, hits: int) -> tuple[int, str | bytes, str]:
        html = "text/html; charset=utf-8"
        parts = urlsplit(path)
        if parts.path in ("/img/1002.jpg", "/img/1006.jpg"):
            return 200, PNG_SHOP, "image/png"
        if parts.path == "/img/big.png":
            return 200, b"\x89PNG" + b"x" * IMAGE_MAXSIZE, "image/png"
        if parts.path == "/robots.txt":
            return 200, "User-agent: *\nDisallow: /private/\n", "text/plain"
        if parts.path == "/search":
            query = parse_qs(parts.query)
            term, page = query.get("q", [""])[0], query.get("page", ["1"])[0]
            if term == "goji" and page == "1":
                return (
                    200,
                    _search(
                        [
                            "/item/1001",
                            "/item/1002",
                            "/private/item/9999",
                            "/flaky/1003",
                            "/item/1004",
                            f"http://localhost:{self.port}/item/7777",
                            "http://169.254.169.254/latest/meta-data/",
                            "/item/1009",
                        ],
                        next_href="/search?q=goji&page=2",
                    ),
                    html,
                )
            if term == "goji" and page == "2":
                links = ["/item/1005", "/item/1006", "/item/1001?from=p2", "/item/1002"]
                return 200, _search(links), html
            if term == "枸杞":
                return 200, _search(["/item/1001", "/item/1010"]), html
            return 200, _search([]), html
        if parts.path == "/flaky/1003" and hits == 1:
            return 503, "busy", "text/plain"
        if parts.path in DETAIL_PAGES:
            return 200, self.page(parts.path), html
        return 404, "not found", "text/plain"

    def paths(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.log]


def source_yaml(base: str) -> str:
    return f"""\
name: fixture-mall
allowed_domains: [127.0.0.1]
image_domains: [127.0.0.2]
search_url: "{base}/search?q={{query}}"
listing_links: "a.item-link"
next_page: "a.next"
render: http
fields:
  seller_id: ".shop::attr(data-seller-id)"
  seller_name: ".shop::text"
  ship_from: "//em[@class='origin']/text()"
  quantity: "span.qty::text"
  price: ".price-now::text"
"""


def run_runner(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "monitor.crawl.runner", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def crawls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Crawl the fixture marketplace twice for the same day (the second is a re-run)."""
    market = FixtureMarketplace()
    base = market.start()
    root = tmp_path_factory.mktemp("crawl")
    source_file = root / "fixture-mall.yaml"
    source_file.write_text(source_yaml(base), encoding="utf-8")
    data = root / "data"
    args = ["--source", str(source_file), "--date", DAY.isoformat(), "--data", str(data)]
    args += ["--set", f"MONITOR_IMAGE_MAXSIZE={IMAGE_MAXSIZE}"]
    for term in TERMS:
        args += ["--term", term]
    try:
        first = run_runner(*args)
        assert first.returncode == 0, first.stderr[-3000:]
        first_log = market.paths()
        cdn_log = [path for path, _ in market.cdn.log]
        day_dir = data / "raw" / "fixture-mall" / DAY.isoformat()
        first_lines = (day_dir / "listings.jsonl").read_text(encoding="utf-8").splitlines()
        first_images = (day_dir / "images.jsonl").read_text(encoding="utf-8").splitlines()
        first_warc = read_warc(day_dir / "pages.warc.gz")
        second = run_runner(*args)
        assert second.returncode == 0, second.stderr[-3000:]
        second_log = market.paths()[len(first_log) :]
    finally:
        market.stop()
    return {
        "base": base,
        "cdn_base": market.cdn.base,
        "port": market.port,
        "page": market.page,
        "data": data,
        "cdn_log": cdn_log,
        "first_images": first_images,
        "day_dir": day_dir,
        "first": first,
        "first_log": first_log,
        "first_lines": first_lines,
        "first_warc": first_warc,
        "first_ua": {ua for _, ua in market.log},
        "second": second,
        "second_log": second_log,
    }


def listings_of(lines: list[str]) -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in lines if line.strip()]
    by_id = {r["listing_id"]: r for r in records}
    assert len(by_id) == len(records), "a listing appears twice"
    return by_id


# --------------------------------------------------------------------------
# The crawl, end to end


def test_summary_line_and_stats_file(crawls: dict[str, Any]) -> None:
    lines = crawls["first"].stdout.strip().splitlines()
    assert len(lines) == 1, crawls["first"].stdout
    summary = json.loads(lines[0])
    day_dir = crawls["day_dir"]
    assert Path(summary["listings_path"]) == day_dir.resolve() / "listings.jsonl"
    assert Path(summary["warc_path"]) == day_dir.resolve() / "pages.warc.gz"
    stats = summary["stats"]
    assert stats["items"] == len(EXPECTED_LISTINGS)
    assert stats["pages"] == len(FETCHED_DETAIL)
    assert stats["warc_records"] == len(FETCHED_DETAIL)
    assert stats["dropped"] == {"no_title": 1, "invalid_seller_id": 1, "duplicate_listing_id": 1}
    assert stats["responses_by_status"]["503"] == 1
    assert stats["responses_by_status"]["200"] >= len(FETCHED_DETAIL) + 4
    # every request got a response but the too-large image's, cancelled while downloading
    assert stats["requests"] == sum(stats["responses_by_status"].values()) + 1
    assert stats["finish_reason"] == "finished"
    assert stats["duration_seconds"] > 0
    assert datetime.fromisoformat(stats["finished_at"]) >= datetime.fromisoformat(
        stats["started_at"]
    )
    # stats.json is the re-run's (the last run) and is what run_crawl returned then
    second = json.loads(crawls["second"].stdout.strip())
    on_disk = json.loads((day_dir / "stats.json").read_text(encoding="utf-8"))
    assert on_disk == second["stats"]


def test_listings_are_valid_records_with_evidence(crawls: dict[str, Any]) -> None:
    by_id = listings_of(crawls["first_lines"])
    assert set(by_id) == EXPECTED_LISTINGS
    for record in by_id.values():
        assert set(record) == set(FIELDS) | {"evidence"}
        listing = parse_listing(record)
        assert listing.source == "fixture-mall"
        assert listing.day == DAY  # a backfill lands on its crawl day
        assert listing.crawled_at.utcoffset() == TZ.utcoffset(listing.crawled_at)
        assert listing.evidence is not None
        assert Path(listing.evidence.warc_path) == crawls["day_dir"].resolve() / "pages.warc.gz"


def test_jsonld_extraction_and_fields_override(crawls: dict[str, Any]) -> None:
    base = crawls["base"]
    by_id = listings_of(crawls["first_lines"])
    full = by_id["1001"]
    assert full["title"] == "宁夏枸杞 特级 500g"
    assert full["description"] == "中宁 头茬 枸杞"
    assert full["url"] == f"{base}/item/1001"
    assert full["image_urls"] == [f"{base}/img/1001-a.jpg", "https://img.example/1001-b.jpg"]
    # `fields` selectors win over JSON-LD
    assert full["seller_name"] == "页面店铺"
    assert full["price"] == 39.9
    assert full["seller_id"] == "s-1001"
    assert full["ship_from"] == "宁夏 中卫 中宁县"
    assert full["quantity"] == "500g"

    only = by_id["1002"]  # nothing for the selectors: JSON-LD stays
    assert only["title"] == "JSON-LD only goji"
    assert only["price"] == 88.0
    assert only["seller_name"] == "Only Shop"
    assert only["seller_id"] == "s-1002"
    assert only["image_urls"] == [f"{base}/img/1002.jpg"]
    assert only["ship_from"] == "" and only["quantity"] == ""

    assert by_id["1005"]["title"] == "Microdata goji"
    assert by_id["1005"]["price"] == 45.0
    assert by_id["1006"]["title"] == "OG goji"
    assert by_id["1006"]["price"] == 66.0
    assert by_id["1006"]["image_urls"] == [f"{base}/img/1006.jpg"]


def test_robots_txt_obeyed(crawls: dict[str, Any]) -> None:
    log = crawls["first_log"]
    assert "/robots.txt" in log
    assert not any(p.startswith("/private/") for p in log)
    stats = json.loads(crawls["first"].stdout)["stats"]
    assert stats["robots_forbidden"] >= 1


def test_user_agent_is_ours(crawls: dict[str, Any]) -> None:
    assert crawls["first_ua"] == {crawl_settings.USER_AGENT}


def test_retry_after_503(crawls: dict[str, Any]) -> None:
    assert crawls["first_log"].count("/flaky/1003") == 2
    assert "1003" in listings_of(crawls["first_lines"])
    first_stats = json.loads(crawls["first"].stdout)["stats"]
    assert first_stats["retries"] >= 1
    assert first_stats["retry_backoff_seconds"] >= 1.0  # the retry waited before going out


def test_pagination_and_search_terms(crawls: dict[str, Any]) -> None:
    log = crawls["first_log"]
    assert "/search?q=goji" in log
    assert "/search?q=goji&page=2" in log
    assert "/search?q=%E6%9E%B8%E6%9D%9E" in log  # the term is URL-quoted
    by_id = listings_of(crawls["first_lines"])
    assert {"1005", "1006", "1010"} <= set(by_id)
    # the dupefilter: no page is fetched twice in a crawl (the 503 retry aside)
    counts = Counter(p for p in log if p != "/flaky/1003")
    assert max(counts.values()) == 1
    assert {p for p in log if p.startswith(("/item/", "/flaky/"))} == FETCHED_DETAIL


def test_no_title_page_logged_and_skipped(crawls: dict[str, Any]) -> None:
    assert "/item/1004" in crawls["first_log"]
    assert "1004" not in listings_of(crawls["first_lines"])
    logged = [line for line in crawls["first"].stderr.splitlines() if "no title" in line]
    assert any(line.endswith("/item/1004") for line in logged), logged


def test_offsite_and_forbidden_links_not_followed(crawls: dict[str, Any]) -> None:
    assert "/item/7777" not in crawls["first_log"]
    stats = json.loads(crawls["first"].stdout)["stats"]
    # localhost and the metadata host are both outside allowed_domains
    assert stats["offsite_filtered"] == 2
    assert stats["blocked_hosts"] == 0


def test_forbidden_host_middleware_refuses_and_counts() -> None:
    class Stats:
        def __init__(self) -> None:
            self.values: Counter[str] = Counter()

        def inc_value(self, key: str) -> None:
            self.values[key] += 1

    crawler = SimpleNamespace(stats=Stats())
    middleware = BlockPrivateHostsMiddleware(crawler)  # type: ignore[arg-type]
    assert middleware.process_request(Request("http://127.0.0.1:8700/item/1")) is None
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ):
        with pytest.raises(IgnoreRequest):
            middleware.process_request(Request(url))
    assert crawler.stats.values["blocked_host/count"] == 3


def test_warc_holds_every_listing_page_with_its_hash(crawls: dict[str, Any]) -> None:
    base = crawls["base"]
    records = crawls["first_warc"]
    assert records[0]["type"] == "warcinfo"
    responses = [r for r in records if r["type"] == "response"]
    assert {r["uri"] for r in responses} == {base + p for p in FETCHED_DETAIL}
    for record in responses:
        digest = hashlib.sha256(record["body"]).hexdigest()
        assert record["sha256"] == digest
        served = crawls["page"](urlsplit(record["uri"]).path).encode("utf-8")
        assert record["body"] == served  # the body exactly as the server sent it
        assert record["status"] == "200"
    by_uri = {r["uri"]: r for r in responses}
    for listing in listings_of(crawls["first_lines"]).values():
        record = by_uri[listing["url"]]
        assert listing["evidence"]["sha256"] == record["sha256"]
        captured = datetime.fromisoformat(listing["evidence"]["captured_at"])
        assert captured.utcoffset().total_seconds() == 0
        warc_date = datetime.fromisoformat(record["date"].replace("Z", "+00:00"))
        assert warc_date == captured


def test_rerun_replaces_the_day(crawls: dict[str, Any]) -> None:
    day_dir: Path = crawls["day_dir"]
    lines = (day_dir / "listings.jsonl").read_text(encoding="utf-8").splitlines()
    assert set(listings_of(lines)) == EXPECTED_LISTINGS
    assert len(lines) == len(crawls["first_lines"])
    responses = [r for r in read_warc(day_dir / "pages.warc.gz") if r["type"] == "response"]
    uris = [r["uri"] for r in responses]
    assert len(uris) == len(set(uris)) == len(FETCHED_DETAIL)
    assert sorted(p.name for p in day_dir.iterdir()) == [
        "images.jsonl",
        "listings.jsonl",
        "pages.warc.gz",
        "stats.json",
    ]
    # the re-run fetched the pages again (it is a new capture, not a copy)
    assert "/item/1001" in crawls["second_log"]


def test_listing_images_kept_by_content_with_a_manifest(crawls: dict[str, Any]) -> None:
    base, cdn, port = crawls["base"], crawls["cdn_base"], crawls["port"]
    store = crawls["data"].resolve() / "images"
    shop_sha = hashlib.sha256(PNG_SHOP).hexdigest()
    cdn_sha = hashlib.sha256(PNG_CDN).hexdigest()
    shop_path = str(store / shop_sha[:2] / f"{shop_sha}.jpg")  # the URL's extension
    cdn_path = str(store / cdn_sha[:2] / f"{cdn_sha}.png")

    def line(url: str, status: str, reason: str = "", sha: str = "", path: str = "") -> Any:
        return {"url": url, "status": status, "reason": reason, "sha256": sha, "path": path}

    records = [json.loads(text) for text in crawls["first_images"]]
    assert sorted(records, key=lambda r: r["url"]) == sorted(
        [
            line(f"{base}/img/1001-a.jpg", "error", "HTTP 404"),
            line(
                "https://img.example/1001-b.jpg",
                "refused",
                "host img.example is in neither allowed_domains nor image_domains",
            ),
            line(f"{base}/img/1002.jpg", "ok", "", shop_sha, shop_path),
            line(f"{base}/img/1006.jpg", "ok", "", shop_sha, shop_path),  # same bytes, one file
            line(f"{cdn}/img/cdn.png", "ok", "", cdn_sha, cdn_path),
            line(
                f"http://localhost:{port}/img/refused.png",
                "refused",
                "host localhost is in neither allowed_domains nor image_domains",
            ),
            line(f"{base}/img/big.png", "error", f"too large (over {IMAGE_MAXSIZE} bytes)"),
        ],
        key=lambda r: r["url"],
    )
    # kept as served (no re-encoding), named by the SHA-256 of the bytes
    assert Path(shop_path).read_bytes() == PNG_SHOP
    assert Path(cdn_path).read_bytes() == PNG_CDN
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == sorted(
        [f"{shop_sha}.jpg", f"{cdn_sha}.png"]
    )
    # a refused host gets no request at all; the image_domains host is not filtered as offsite
    assert not any(p.startswith("/img/refused") for p in crawls["first_log"])
    assert crawls["cdn_log"] == ["/robots.txt", "/img/cdn.png"]  # its robots.txt is read too
    assert Counter(p for p in crawls["first_log"] if p.startswith("/img/")) == {
        "/img/1001-a.jpg": 1,
        "/img/1002.jpg": 1,
        "/img/1006.jpg": 1,
        "/img/big.png": 1,
    }
    stats = json.loads(crawls["first"].stdout)["stats"]
    assert (stats["images_ok"], stats["images_failed"], stats["images_refused"]) == (3, 2, 2)
    assert stats["errors"] == 0
    # the re-run replaced the manifest: each URL once
    rerun = (crawls["day_dir"] / "images.jsonl").read_text(encoding="utf-8").splitlines()
    urls = [json.loads(text)["url"] for text in rerun]
    assert sorted(urls) == sorted(r["url"] for r in records)


# --------------------------------------------------------------------------
# The runner's command line


def test_runner_reports_bad_source_file_on_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nallowed_domains: [shop.example]\nrender: chrome\n", encoding="utf-8")
    result = run_runner("--source", str(bad), "--term", "x", "--data", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f"{bad}:3: render must be 'http' or 'browser', got 'chrome'"


def test_runner_refuses_a_feed_source(tmp_path: Path) -> None:
    feed = tmp_path / "feed.yaml"
    feed.write_text("name: feed\nallowed_domains: [shop.example]\n", encoding="utf-8")
    result = run_runner("--source", str(feed), "--term", "x", "--data", str(tmp_path))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "field 'search_url' is required to crawl" in result.stderr
    assert not (tmp_path / "raw").exists()


# --------------------------------------------------------------------------
# Source files

DEMO_MALL = """\
name: demo-mall
allowed_domains: [127.0.0.1]
image_domains: [127.0.0.1]
search_url: "http://127.0.0.1:8700/search?q={query}"
listing_links: "a.item-link"
next_page: "a.next"
render: http
fields:
  seller_id: ".shop::attr(data-seller-id)"
  ship_from: "//em[@class='origin']/text()"
  quantity: "span.qty::text"
"""


def write(tmp_path: Path, text: str, name: str = "src.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(UserError) as info:
        load_source(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_load_source_reads_a_marketplace(tmp_path: Path) -> None:
    path = write(tmp_path, DEMO_MALL)
    source = load_source(path)
    assert source == SourceConfig(
        name="demo-mall",
        allowed_domains=("127.0.0.1",),
        image_domains=("127.0.0.1",),
        search_url="http://127.0.0.1:8700/search?q={query}",
        listing_links="a.item-link",
        next_page="a.next",
        render="http",
        fields={
            "seller_id": ".shop::attr(data-seller-id)",
            "ship_from": "//em[@class='origin']/text()",
            "quantity": "span.qty::text",
        },
        path=str(path),
    )
    assert source.crawlable
    assert source.search_request_url("宁夏 枸杞") == (
        "http://127.0.0.1:8700/search?q=%E5%AE%81%E5%A4%8F%20%E6%9E%B8%E6%9D%9E"
    )


def test_load_source_reads_a_feed_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: feed-x\nallowed_domains: [shop.example]\nimage_domains: [img.cdn.example]\n",
    )
    source = load_source(path)
    assert not source.crawlable
    assert source.image_host_allowed("https://a.img.cdn.example/x.jpg")
    assert source.image_host_allowed("https://shop.example/x.jpg")
    assert not source.image_host_allowed("https://evil.example/x.jpg")
    assert not source.image_host_allowed("https://notshop.example/x.jpg")
    with pytest.raises(UserError, match="search_url' is required to crawl"):
        check_crawlable(source, ["x"])


def test_bundled_names_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "SOURCES_DIR", tmp_path)
    write(tmp_path, DEMO_MALL, "demo-mall.yaml")
    assert bundled_sources() == ["demo-mall"]
    assert load_source("demo-mall").path == str(tmp_path / "demo-mall.yaml")
    with pytest.raises(UserError, match=r"^nope: no bundled source .*bundled sources: demo-mall"):
        load_source("nope")


def test_shipped_demo_mall_is_valid() -> None:
    if "demo-mall" not in bundled_sources():
        pytest.skip("monitor/crawl/sources/demo-mall.yaml not written yet")
    assert load_source("demo-mall").name == "demo-mall"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\nallowed_domains: [a.example]\nserch_url: 'http://a.example/?q={query}'\n",
            ":3: unknown key 'serch_url'; did you mean 'search_url'?",
        ),
        ("allowed_domains: [a.example]\n", ": field 'name' is required"),
        ("name: x\n", ": field 'allowed_domains' is required (a list of host names)"),
        (
            "name: x\nallowed_domains: [a.example]\nsearch_url: http://a.example/s\n"
            "listing_links: a\n",
            ":3: search_url must contain {query}",
        ),
        (
            "name: x\nallowed_domains: [a.example]\n"
            "search_url: 'http://b.example/?q={query}'\nlisting_links: a\n",
            ":3: search_url host 'b.example' is not in allowed_domains",
        ),
        (
            "name: x\nallowed_domains: [a.example]\nrender: js\n",
            ":3: render must be 'http' or 'browser', got 'js'",
        ),
        (
            "name: x\nallowed_domains: [a.example]\nfields:\n  title: h1::text\n"
            "  colour: .c::text\n",
            ":5: field 'colour' is not a listing field",
        ),
        (
            "name: x\nallowed_domains: [a.example]\nfields:\n  crawled_at: .t::text\n",
            ":4: field 'crawled_at' is not a listing field",
        ),
        (
            "name: x\nallowed_domains: [a.example]\nfields:\n  title: 'h1[[::text'\n",
            ":4: field 'title': invalid CSS selector 'h1[[::text'",
        ),
        (
            "name: x\nallowed_domains: [a.example]\nfields:\n  title: '//h1[@'\n",
            ":4: field 'title': invalid XPath selector '//h1[@'",
        ),
        (
            "name: x\nallowed_domains: [a.example]\nsearch_url: 'http://a.example/?q={query}'\n",
            ": field 'listing_links' is required when search_url is set",
        ),
        ("name: x\nallowed_domains: [http://a.example]\n", ":2: field 'allowed_domains'"),
        ("name: ../x\nallowed_domains: [a.example]\n", ":1: name '../x' may hold only"),
        ("name: x\nname: y\nallowed_domains: [a.example]\n", ":2: duplicate key 'name'"),
        ("name: x\nallowed_domains: [a.example\nrender: http\n", ":3: YAML syntax error"),
        ("- just\n- a list\n", ":1: a source file must be a mapping"),
        ("", ":1: a source file must be a mapping"),
    ],
)
def test_source_errors_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(str(path) + expected), message


def test_missing_source_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert error_of(missing) == f"{missing}: no such source file"


def test_browser_source_keys(tmp_path: Path) -> None:
    text = DEMO_MALL.replace("render: http", "render: browser") + (
        "wait_for: 'h1.name, p.gone'\nwait_for_search: '#results[data-state=ready]'\n"
    )
    source = load_source(write(tmp_path, text))
    assert source.render == "browser"
    assert source.wait_for == "h1.name, p.gone"
    assert source.wait_for_search == "#results[data-state=ready]"
    assert wait_selectors(source) == ("h1.name, p.gone", "#results[data-state=ready]")
    # without wait_for: the title field's element, and the listing links
    plain = parse_source(
        DEMO_MALL.replace("render: http", "render: browser") + "  title: 'h1.t::text'\n", "s"
    )
    assert wait_selectors(plain) == ("h1.t", "a.item-link")
    # wait_for is a browser key: on an HTTP source it is a mistake, named with its line
    bad = write(tmp_path, DEMO_MALL + "wait_for: h1\n", "bad.yaml")
    assert error_of(bad).endswith(":12: wait_for applies to render: browser only")
    broken = write(tmp_path, text.replace("h1.name, p.gone", "h1[["), "broken.yaml")
    assert ":12: wait_for: invalid CSS selector 'h1[['" in error_of(broken)


def test_browser_source_without_chromium_is_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MONITOR_CHROMIUM", str(tmp_path / "no-chromium"))
    source = parse_source(DEMO_MALL.replace("render: http", "render: browser"), "s.yaml")
    with pytest.raises(UserError) as info:
        check_crawlable(source, ["x"])
    message = str(info.value)
    assert message == (
        f"s.yaml: render: browser needs Chromium: Chromium not found at {tmp_path}/no-chromium "
        "(install Debian's chromium package or set MONITOR_CHROMIUM to a Chromium binary)"
    )


def test_runner_browser_source_without_chromium(tmp_path: Path) -> None:
    src = write(tmp_path, DEMO_MALL.replace("render: http", "render: browser"), "b.yaml")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MONITOR_CHROMIUM": "/nonexistent/chromium"}
    result = subprocess.run(
        [sys.executable, "-m", "monitor.crawl.runner", "--source", str(src), "--term", "x",
         "--data", str(tmp_path / "data")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{src}: render: browser needs Chromium: Chromium not found at /nonexistent/chromium "
        "(install Debian's chromium package or set MONITOR_CHROMIUM to a Chromium binary)"
    ]
    assert not (tmp_path / "data").exists()


def test_playwright_selector() -> None:
    assert playwright_selector("h1.t::text") == "h1.t"
    assert playwright_selector(".shop::attr(data-seller-id)") == ".shop"
    assert playwright_selector("h1::text, h2::text") == "h1, h2"
    assert playwright_selector("//h1[@class='t']/text()") == "xpath=//h1[@class='t']"
    assert playwright_selector("//div/@data-id") == "xpath=//div"
    assert playwright_selector("") == ""


def test_http_source_settings_keep_scrapys_handler() -> None:
    """Only a browser source gets the Playwright download handler."""
    assert "DOWNLOAD_HANDLERS" not in vars(crawl_settings)
    assert crawl_settings.TWISTED_REACTOR.endswith("AsyncioSelectorReactor")


# --------------------------------------------------------------------------
# Small parts


def test_item_has_the_listing_fields_and_evidence() -> None:
    # `rendered` carries a browser page's DOM and screenshot to the pipeline, never to a file
    assert set(ListingItem.fields) == set(FIELDS) | {"evidence", "rendered"}


def test_crawl_timestamp_today_and_backfill() -> None:
    now = datetime(2024, 3, 16, 1, 30, 5, 123, tzinfo=TZ)
    assert crawl_timestamp(date(2024, 3, 16), now) == now.replace(microsecond=0)
    backfill = crawl_timestamp(date(2024, 3, 10), now)
    assert backfill.isoformat() == "2024-03-10T01:30:05+08:00"
    # a UTC clock still gives the Shanghai day: 20:00 UTC on the 15th is the 16th
    utc_now = datetime(2024, 3, 15, 20, 0, tzinfo=UTC)
    assert crawl_timestamp(date(2024, 3, 16), utc_now).isoformat() == "2024-03-16T04:00:00+08:00"


def test_parse_price() -> None:
    assert parse_price("¥1,299.00") == (1299.0, "")
    assert parse_price(45) == (45.0, "")
    assert parse_price("59.00", "CNY") == (59.0, "")
    assert parse_price("10", "USD") == (None, "not_cny")
    assert parse_price("面议") == (None, "unreadable")
    assert parse_price(None) == (None, "")


def test_listing_id_from_url() -> None:
    assert listing_id_from_url("http://h/item/123") == "123"
    assert listing_id_from_url("http://h/item/123/?ref=x") == "123"
    assert listing_id_from_url("http://h/") == ""


def test_forbidden_hosts() -> None:
    for host in (
        "169.254.169.254",
        "169.254.1.2",
        "fe80::1",
        "[fe80::1]",
        "100.100.100.200",
        "metadata.google.internal",
        "METADATA.GOOGLE.INTERNAL.",
        "::ffff:169.254.0.1",
    ):
        assert is_forbidden_host(host), host
    for host in ("127.0.0.1", "shop.example", "10.0.0.1", "::1", ""):
        assert not is_forbidden_host(host), host


def test_drop_reason_names_the_field() -> None:
    assert drop_reason(ListingError("field 'seller_id' is required")) == "invalid_seller_id"
    assert drop_reason(ListingError("a listing must be a JSON object")) == "invalid_listing"


def test_summarize_stats_keeps_reasons_not_exception_names() -> None:
    raw = {
        "downloader/request_count": 3,
        "downloader/response_status_count/200": 2,
        "downloader/response_status_count/503": 1,
        "item_dropped_reasons_count/DropListing": 2,
        "item_dropped_reasons_count/duplicate_listing_id": 2,
        "item_scraped_count": 1,
        "finish_reason": "finished",
    }
    stats = summarize_stats(raw, "s", DAY)
    assert stats["responses_by_status"] == {"200": 2, "503": 1}
    assert stats["dropped"] == {"duplicate_listing_id": 2}
    assert stats["requests"] == 3 and stats["items"] == 1


def test_summarize_stats_rates() -> None:
    raw = {"downloader/request_count": 12, "monitor/pages": 8, "elapsed_time_seconds": 4.0}
    stats = summarize_stats(raw, "s", DAY)
    assert stats["pages_per_second"] == 2.0 and stats["requests_per_second"] == 3.0
    assert stats["runs"] == 1
    assert summarize_stats({}, "s", DAY)["pages_per_second"] == 0.0


def test_merge_stats_of_a_resumed_crawl() -> None:
    first = summarize_stats(
        {
            "downloader/request_count": 5,
            "downloader/response_status_count/200": 4,
            "downloader/response_status_count/503": 1,
            "item_scraped_count": 3,
            "item_dropped_reasons_count/no_title": 1,
            "monitor/pages": 4,
            "elapsed_time_seconds": 2.0,
            "finish_reason": "shutdown",
            "start_time": datetime(2024, 3, 15, 1, 0, tzinfo=UTC),
        },
        "s",
        DAY,
    )
    last = summarize_stats(
        {
            "downloader/request_count": 7,
            "downloader/response_status_count/200": 7,
            "item_scraped_count": 6,
            "item_dropped_reasons_count/no_title": 2,
            "monitor/pages": 6,
            "elapsed_time_seconds": 3.0,
            "finish_reason": "finished",
            "start_time": datetime(2024, 3, 15, 2, 0, tzinfo=UTC),
        },
        "s",
        DAY,
    )
    merged = merge_stats([first], last)
    assert merged["requests"] == 12 and merged["items"] == 9 and merged["pages"] == 10
    assert merged["responses_by_status"] == {"200": 11, "503": 1}
    assert merged["dropped"] == {"no_title": 3}
    assert merged["duration_seconds"] == 5.0 and merged["pages_per_second"] == 2.0
    assert merged["runs"] == 2 and merged["finish_reason"] == "finished"
    assert merged["started_at"] == first["started_at"]
    assert merge_stats([], last) == last
    line = format_stats(merged)
    assert line.startswith("crawl s 2024-03-15: 12 requests (responses 200: 11, 503: 1)")
    assert line.endswith("5.0s in 2 runs, 2.0 pages/s")


def test_parse_setting_overrides() -> None:
    assert parse_setting_overrides(["AUTOTHROTTLE_ENABLED=false", "X=2.5", "LOG_LEVEL=INFO"]) == {
        "AUTOTHROTTLE_ENABLED": False,
        "X": 2.5,
        "LOG_LEVEL": "INFO",
    }
    with pytest.raises(UserError, match="expected NAME=VALUE"):
        parse_setting_overrides(["nonsense"])


def test_file_stem_keeps_plain_ids_and_encodes_the_rest() -> None:
    assert file_stem("dmx-1001") == "dmx-1001"
    assert file_stem("A_1.2") == "A_1.2"
    for odd in ("..", "../etc/passwd", "a/b", "商品-1", "x" * 300, "."):
        stem = file_stem(odd)
        assert "/" not in stem and not stem.startswith(".") and len(stem) < 80, odd
    assert file_stem("a/b") != file_stem("a_b") and file_stem("商品-1") != file_stem("商品-2")


def test_staged_folder_replaces_and_prunes(tmp_path: Path) -> None:
    final = tmp_path / "dom"
    first = StagedFolder(final)
    first.write("a.html", b"A1")
    first.write("b.html", b"B1")
    first.finish("finished", RunParts())
    second = StagedFolder(final)
    path, digest = second.write("a.html", b"A2")
    assert path == final / "a.html" and digest == hashlib.sha256(b"A2").hexdigest()
    second.finish("finished", RunParts())
    assert {p.name: p.read_bytes() for p in final.iterdir()} == {"a.html": b"A2"}
    third = StagedFolder(final)
    third.write("c.html", b"C")
    third.finish("shutdown", RunParts())  # not finished, no job: the day stays as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dom"]
    assert [p.name for p in final.iterdir()] == ["a.html"]


def test_staged_file_parts_are_put_in_front(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    one = StagedFile(tmp_path / "day" / "listings.jsonl", "w")
    one.handle.write("1\n")
    one.finish("shutdown", RunParts(current=parts / "001"))
    (parts / "001" / "stats.json").write_text("{}", encoding="utf-8")
    assert not (tmp_path / "day" / "listings.jsonl").exists()
    two = StagedFile(tmp_path / "day" / "listings.jsonl", "w")
    two.handle.write("2\n")
    settings = {PARTS_SETTING: str(parts), RUN_PART_SETTING: "002"}
    two.finish("finished", RunParts.from_settings(settings))
    assert (tmp_path / "day" / "listings.jsonl").read_text(encoding="utf-8") == "1\n2\n"
    assert sorted(p.name for p in (tmp_path / "day").iterdir()) == ["listings.jsonl"]


def test_crawl_job_states_and_lock(tmp_path: Path) -> None:
    job = CrawlJob(tmp_path / "jobs" / "s" / "2024-03-15")
    with job.locked("s 2024-03-15"):
        second = CrawlJob(job.path)
        busy = "another crawl of this source and day is running"
        with pytest.raises(UserError, match=busy), second.locked("s 2024-03-15"):
            pass
        job.start()
        assert job.run_part == "001" and not job.resumed
        job.suspend({"items": 1})
    again = CrawlJob(job.path)
    again.start()
    assert again.resumed and again.run_part == "002"
    assert again.part_stats() == [{"items": 1}]
    # a run that died without suspending ("running") is not trusted: start over
    third = CrawlJob(job.path)
    third.start()
    assert not third.resumed and third.run_part == "001" and third.part_stats() == []
    third.suspend({"items": 2})
    fresh = CrawlJob(job.path)
    fresh.start(fresh=True)
    assert not fresh.resumed and fresh.part_stats() == []
    fresh.remove()
    assert not job.path.exists()


def _spider_with_engine(running: bool) -> Any:
    from monitor.crawl.spider import ListingSpider

    source = parse_source(DEMO_MALL, "demo-mall.yaml")
    spider = ListingSpider(source=source, terms=["枸杞"], day=DAY)
    stats = Counter()
    spider.crawler = SimpleNamespace(  # type: ignore[assignment]
        engine=SimpleNamespace(running=running),
        stats=SimpleNamespace(inc_value=lambda key: stats.update([key])),
    )
    spider.state = {}
    return spider, stats


def test_requests_failing_while_stopping_are_fetched_again_on_resume() -> None:
    import asyncio

    from scrapy.http import Response
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.internet.error import ConnectionLost
    from twisted.python.failure import Failure

    from monitor.crawl.middlewares import PAGE_KIND
    from monitor.crawl.spider import UNFINISHED

    def failure(exc: Exception, url: str, kind: str) -> Failure:
        f = Failure(exc)
        f.request = Request(url, meta={PAGE_KIND: kind})  # type: ignore[attr-defined]
        return f

    stopping, stats = _spider_with_engine(running=False)
    stopping.on_error(failure(ConnectionLost(), "http://127.0.0.1:8700/item/a", "detail"))
    stopping.on_error(failure(ConnectionLost(), "http://127.0.0.1:8700/search?q=x&page=2",
                              "search"))
    # refused by robots.txt or an HTTP error status: a decision, not an interruption
    stopping.on_error(failure(IgnoreRequest(), "http://127.0.0.1:8700/private/x", "detail"))
    response = Response("http://127.0.0.1:8700/item/b", status=404)
    stopping.on_error(failure(HttpError(response), response.url, "detail"))
    assert stopping.state[UNFINISHED] == [
        ("http://127.0.0.1:8700/item/a", "detail"),
        ("http://127.0.0.1:8700/search?q=x&page=2", "search"),
    ]
    assert stats["monitor/unfinished_at_shutdown"] == 2

    resumed, _ = _spider_with_engine(running=True)
    resumed.state = dict(stopping.state)

    async def first_three() -> list[Request]:
        out = []
        async for request in resumed.start():
            out.append(request)
        return out[:3]

    requests = asyncio.run(first_three())
    assert [(r.url, r.dont_filter, r.callback.__name__) for r in requests] == [
        ("http://127.0.0.1:8700/item/a", True, "parse_detail"),
        ("http://127.0.0.1:8700/search?q=x&page=2", True, "parse"),
        ("http://127.0.0.1:8700/search?q=%E6%9E%B8%E6%9D%9E", False, "parse"),
    ]
    assert UNFINISHED not in resumed.state

    running, _ = _spider_with_engine(running=True)
    running.on_error(failure(ConnectionLost(), "http://127.0.0.1:8700/item/c", "detail"))
    assert UNFINISHED not in running.state  # an ordinary failure is just that


def test_retry_backoff_waits_longer_each_time() -> None:
    import asyncio

    from monitor.crawl.middlewares import RetryBackoffMiddleware

    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    crawler = SimpleNamespace(
        settings=Settings({"RETRY_BACKOFF_BASE": 1.0, "RETRY_BACKOFF_MAX": 3.0}), stats=None
    )
    middleware = RetryBackoffMiddleware(crawler, sleep=fake_sleep)  # type: ignore[arg-type]
    for retries in (0, 1, 2, 3, 4):
        request = Request("http://127.0.0.1/item/x", meta={"retry_times": retries})
        asyncio.run(middleware.process_request(request))
    assert waited == [1.0, 2.0, 3.0, 3.0]  # none before the first try; capped at the max
