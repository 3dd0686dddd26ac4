"""A small marketplace served over real HTTP, so the crawler meets what it would meet online.

The pages follow the contract the demo source config (`crawl/sources/demo-mall.yaml`)
relies on: search results are `a.item-link`, the next page is `a.next`, a detail
page carries a schema.org Product in JSON-LD plus visible fields for the
selectors (`.shop[data-seller-id]`, `em.origin`, `span.qty`). `/private/` exists
but robots.txt forbids it, so a test can tell whether the spider obeys robots.

Under `/m2/` the same server runs a second shop whose pages are drawn by
JavaScript from a JSON API (`jsmall.py`, source `demo-js-mall.yaml`): the
marketplace a `render: browser` source is for.

Only the standard library and Pillow are used; the server is quiet (no request
log) because it runs inside `monitor demo` and the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import io
import json
import random
import re
import threading
import unicodedata
from collections import Counter
from functools import lru_cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from PIL import Image, ImageDraw, ImageEnhance

CATALOG_PATH = Path(__file__).with_name("catalog.jsonl")
PAGE_SIZE = 10
IMAGE_SIZE = 240
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
_REQUIRED = ("listing_id", "title", "seller_id")
_SPACE = re.compile(r"\s+")


def load_catalog(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read the catalog (JSON lines), sorted by listing id.

    Raises ValueError naming the line when a record is unusable, because a
    broken demo catalog should fail loudly at start rather than serve half a shop.
    """
    source = Path(path) if path is not None else CATALOG_PATH
    listings: list[dict[str, Any]] = []
    seen: set[str] = set()
    with source.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{source}:{line_no}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{source}:{line_no}: a listing must be a JSON object")
            for name in _REQUIRED:
                if not isinstance(record.get(name), str) or not record[name]:
                    raise ValueError(f"{source}:{line_no}: field '{name}' is required")
            if record["listing_id"] in seen:
                raise ValueError(f"{source}:{line_no}: duplicate id {record['listing_id']}")
            seen.add(record["listing_id"])
            listings.append(record)
    listings.sort(key=lambda r: r["listing_id"])
    return listings


def normalize(text: str) -> str:
    """The search form of a text: NFKC, lower case, only letters and digits.

    Like a real marketplace's tokenizer, the search ignores whitespace,
    punctuation and emoji, so 盐·池·滩·羊 is found by 滩羊.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def _shapes(listing_id: str, number: int) -> Image.Image:
    seed = hashlib.sha256(f"{listing_id}/{number}".encode()).digest()
    rng = random.Random(seed)
    background = tuple(rng.randrange(40, 230) for _ in range(3))
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 7)):
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        x0, y0 = rng.randrange(0, IMAGE_SIZE - 40), rng.randrange(0, IMAGE_SIZE - 40)
        x1 = rng.randrange(x0 + 20, IMAGE_SIZE)
        y1 = rng.randrange(y0 + 20, IMAGE_SIZE)
        shape = rng.choice(("ellipse", "rectangle", "triangle"))
        if shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
    return image


@lru_cache(maxsize=512)
def render_image(listing_id: str, number: int, spec: str = "") -> bytes:
    """A deterministic PNG for one listing photo.

    Plain photos are a coloured background with a few shapes, seeded by the
    listing id and photo number so that each is stable across runs (image
    hashes stay comparable) yet different from every other photo. A catalog
    entry may say what a photo shows instead (`photos`, one spec per photo):

    - `mark:<right-id>`: the project's stand-in mark of that right printed on a
      corner of a larger product photo (a seller showing the special mark);
    - `copy:<listing-id>/<n>`: a slightly resized and brightened copy of that
      listing's photo n (a seller reusing an authorized seller's photo).
    """
    if spec.startswith("mark:"):
        from monitor.image.marks import draw_mark

        image = _shapes(listing_id, number).resize((IMAGE_SIZE * 2, IMAGE_SIZE * 2))
        side = int(image.width * 0.45)
        image.paste(draw_mark(spec[5:]).resize((side, side)), (image.width - side - 12, 12))
    elif spec.startswith("copy:"):
        other, _, n = spec[5:].partition("/")
        original = _shapes(other, int(n or 1))
        image = ImageEnhance.Brightness(original.resize((IMAGE_SIZE * 9 // 10,) * 2)).enhance(1.08)
    else:
        image = _shapes(listing_id, number)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _page(title: str, body: str) -> str:
    """A whole HTML document; `title` is escaped here, `body` must already be safe."""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)} - 演示商城</title>\n</head>\n<body>\n"
        '<header><a href="/">演示商城</a> (demo marketplace, invented listings)</header>\n'
        f"{body}\n</body>\n</html>\n"
    )


_SEARCH_FORM = (
    '<form class="search" action="/search" method="get">'
    '<input type="text" name="q" placeholder="搜索商品">'
    '<button type="submit">搜索</button></form>'
)


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> element early ('<' is escaped)."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class DemoMarketplace:
    """The demo shop: start() it, crawl base_url, stop() it (or use it as a context manager).

    `hits` counts requests served per kind of path ("robots", "home", "search",
    "item", "img", "private", "not_found", and "m2_*" for the JS shop), so
    tests can check what a crawler asked for. `js` is the JS shop under
    `/m2/`; `api_delay` is how long its item API takes to answer.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8700,
        catalog_path: str | Path | None = None,
        js_catalog_path: str | Path | None = None,
        api_delay: float = 0.15,
    ) -> None:
        from monitor.demo.jsmall import JsMall

        self.host = host
        self.port = port
        self.listings = load_catalog(catalog_path)
        self.by_id = {r["listing_id"]: r for r in self.listings}
        self._haystacks = [
            (normalize(r["title"] + "\n" + str(r.get("description") or "")), r)
            for r in self.listings
        ]
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.js = JsMall(self, js_catalog_path, api_delay)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        """Bind and serve in a background thread; return the base URL (port 0 = any free)."""
        if self._server is not None:
            return self.base_url
        server = _Server((self.host, self.port), _Handler)
        server.shop = self
        self._server = server
        self.port = server.server_address[1]
        self.base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, name="demo-marketplace", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until KeyboardInterrupt (for `python -m`)."""
        self.start()
        try:
            assert self._thread is not None
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> DemoMarketplace:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, kind: str) -> None:
        with self._lock:
            self.hits[kind] += 1

    # -- content ---------------------------------------------------------------

    def search(self, query: str) -> list[dict[str, Any]]:
        """Listings whose normalized title+description contain the normalized query."""
        needle = normalize(query)
        if not needle:
            return []
        return [r for hay, r in self._haystacks if needle in hay]

    def image_url(self, listing_id: str, number: int) -> str:
        return f"{self.base_url}/img/{quote(listing_id)}/{number}.png"

    def home_page(self) -> str:
        body = (
            "<h1>演示商城</h1>\n"
            f"{_SEARCH_FORM}\n"
            "<p>本站商品、店铺均为虚构，仅用于演示监测流程。</p>\n"
            '<footer><a href="/private/seller-admin">商家后台</a></footer>'
        )
        return _page("首页", body)

    def search_page(self, query: str, page: int) -> str:
        results = self.search(query)
        start = (page - 1) * PAGE_SIZE
        shown = results[start : start + PAGE_SIZE]
        items = "\n".join(
            '<li class="item">'
            f'<a class="item-link" href="/item/{quote(r["listing_id"])}">'
            f"{html.escape(r['title'])}</a>"
            f' <span class="price">¥{html.escape(_price(r.get("price")))}</span></li>'
            for r in shown
        )
        nav = []
        if page > 1 and start - PAGE_SIZE < len(results):
            href = f"/search?q={quote(query)}&page={page - 1}"
            nav.append(f'<a class="prev" href="{html.escape(href)}">上一页</a>')
        if start + PAGE_SIZE < len(results):
            href = f"/search?q={quote(query)}&page={page + 1}"
            nav.append(f'<a class="next" href="{html.escape(href)}">下一页</a>')
        body = (
            f"{_SEARCH_FORM}\n"
            f'<p class="summary">“{html.escape(query)}” 共 {len(results)} 件商品，'
            f"第 {page} 页</p>\n"
            f'<ul class="results">\n{items}\n</ul>\n'
            f'<nav class="pager">{" ".join(nav)}</nav>'
        )
        return _page(f"搜索 {query}", body)

    def item_page(self, listing: dict[str, Any]) -> str:
        lid = listing["listing_id"]
        images = [self.image_url(lid, n) for n in range(1, _image_count(listing) + 1)]
        product = {
            "@context": "https://schema.org",
            "@type": "Product",
            "name": listing["title"],
            "description": listing.get("description") or "",
            "sku": lid,
            "image": images,
            "offers": {
                "@type": "Offer",
                "price": listing.get("price"),
                "priceCurrency": "CNY",
                "availability": "https://schema.org/InStock",
                "url": f"{self.base_url}/item/{quote(lid)}",
                "seller": {"@type": "Organization", "name": listing.get("seller_name") or ""},
            },
        }
        esc = html.escape
        imgs = "\n".join(
            f'<img class="photo" src="{esc(url)}" width="{IMAGE_SIZE}" '
            f'height="{IMAGE_SIZE}" alt="商品图{n}">'
            for n, url in enumerate(images, 1)
        )

        def text(name: str) -> str:
            return esc(str(listing.get(name) or ""))

        body = (
            f'<script type="application/ld+json">{_json_for_script(product)}</script>\n'
            '<main class="item-detail">\n'
            f'<h1 class="title">{text("title")}</h1>\n'
            f'<div class="gallery">{imgs}</div>\n'
            f'<div class="price">¥<span class="amount">'
            f"{esc(_price(listing.get('price')))}</span></div>\n"
            f'<div>规格：<span class="qty">{text("quantity")}</span></div>\n'
            f'<div>发货地：<em class="origin">{text("ship_from")}</em></div>\n'
            f'<div class="shop" data-seller-id="{text("seller_id")}">'
            f"{text('seller_name')}</div>\n"
            f'<p class="desc">{text("description")}</p>\n'
            "</main>"
        )
        return _page(listing["title"], body)


def _price(value: Any) -> str:
    if value is None:
        return ""
    return f"{float(value):.2f}"


def _image_count(listing: dict[str, Any]) -> int:
    try:
        return max(0, int(listing.get("images") or 0))
    except (TypeError, ValueError):
        return 0


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its shop and stays silent about dropped clients."""

    daemon_threads = True
    # socketserver's default listen backlog is 5: a crawler opening a few
    # connections at once overflows it, and each dropped SYN costs a 1 s retransmit.
    request_queue_size = 128
    shop: DemoMarketplace

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A crawler hanging up mid-response is normal here; don't print a traceback."""


_IMG_PATH = re.compile(r"^/img/([^/]+)/(\d+)\.png$")


class _Handler(BaseHTTPRequestHandler):
    """Routes GET requests to the shop's pages."""

    server: _Server
    server_version = "DemoMall/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo runs inside other commands' output."""

    def do_GET(self) -> None:
        self._route(send_body=True)

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def _route(self, send_body: bool) -> None:
        shop = self.server.shop
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path == "/robots.txt":
            shop.count("robots")
            self._send(HTTPStatus.OK, ROBOTS_TXT.encode(), "text/plain; charset=utf-8", send_body)
        elif path in ("/", "/index.html"):
            shop.count("home")
            self._html(HTTPStatus.OK, shop.home_page(), send_body)
        elif path == "/search":
            shop.count("search")
            params = parse_qs(parts.query)
            query = params.get("q", [""])[0]
            try:
                page = max(1, int(params.get("page", ["1"])[0]))
            except ValueError:
                page = 1
            self._html(HTTPStatus.OK, shop.search_page(query, page), send_body)
        elif path.startswith("/item/"):
            listing = shop.by_id.get(path[len("/item/") :])
            if listing is None:
                self._not_found(send_body)
                return
            shop.count("item")
            self._html(HTTPStatus.OK, shop.item_page(listing), send_body)
        elif match := _IMG_PATH.match(path):
            listing = shop.by_id.get(match.group(1))
            number = int(match.group(2))
            if listing is None or not 1 <= number <= _image_count(listing):
                self._not_found(send_body)
                return
            shop.count("img")
            specs = listing.get("photos") or []
            spec = specs[number - 1] if number <= len(specs) else ""
            data = render_image(listing["listing_id"], number, spec)
            self._send(HTTPStatus.OK, data, "image/png", send_body)
        elif path == "/m2" or path.startswith("/m2/"):
            status, data, ctype = shop.js.handle(path, parts.query)
            self._send(HTTPStatus(status), data, ctype, send_body)
        elif path.startswith("/private/"):
            shop.count("private")
            body = "<h1>商家后台</h1>\n<p>robots.txt 禁止抓取本目录。</p>"
            self._html(HTTPStatus.OK, _page("商家后台", body), send_body)
        else:
            self._not_found(send_body)

    def _not_found(self, send_body: bool) -> None:
        self.server.shop.count("not_found")
        body = "<h1>404</h1>\n<p>页面不存在或商品已下架。</p>"
        self._html(HTTPStatus.NOT_FOUND, _page("页面不存在", body), send_body)

    def _html(self, status: HTTPStatus, text: str, send_body: bool) -> None:
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8", send_body)

    def _send(self, status: HTTPStatus, data: bytes, ctype: str, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)


def main(argv: list[str] | None = None) -> int:
    """`python -m monitor.demo.server --port 8700`: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the demo marketplace.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--catalog", default=None, help="catalog JSONL (default: bundled)")
    parser.add_argument("--js-catalog", default=None,
                        help="catalog JSONL of the JS shop under /m2/ (default: bundled)")
    args = parser.parse_args(argv)
    shop = DemoMarketplace(args.host, args.port, args.catalog, args.js_catalog)
    url = shop.start()
    print(f"demo marketplace: {url} ({len(shop.listings)} listings), JS shop {url}/m2/ "
          f"({len(shop.js.listings)} listings); Ctrl-C to stop", flush=True)
    try:
        shop.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        shop.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
