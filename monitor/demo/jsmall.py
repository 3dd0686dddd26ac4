"""The demo's second marketplace, under `/m2/`: pages whose listings are drawn by JavaScript.

Many marketplaces send an empty page and fill it from a JSON API in the
browser. This shop does the same, so `render: browser` has something real to
do: the HTML of a search or listing page holds no listing text at all (no
JSON-LD, no fields), only an empty container and an inline script that
fetches `/m2/api/search.json` or `/m2/api/item/<id>.json` and builds the
page. An HTTP crawl of it finds nothing; a browser crawl finds everything,
once it waits for the script (the item API answers after `api_delay`
seconds, well after the page's load event).

The shop has its own invented listings (`catalog-js.jsonl`, ids `jsm-NNNN`)
and its own source file, `monitor/crawl/sources/demo-js-mall.yaml`, whose
selectors name the elements the script creates:

- search: `ul#results` gets `li > a.item-link` per hit, `nav#pager` gets
  `a.next`; `#results[data-state=ready]` once drawn;
- listing: `main#app` gets `h1.product-name`, `img.gallery-photo`,
  `span.price-value`, `span.spec`, `span.ship-from`,
  `div.seller-card[data-seller-id] > span.seller-name`, `p.desc`; a listing
  taken down since the search index was built shows `p.gone` instead.
"""

from __future__ import annotations

import html
import json
import time
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from monitor.demo.server import (
    IMAGE_SIZE,
    PAGE_SIZE,
    _image_count,
    load_catalog,
    normalize,
)

if TYPE_CHECKING:
    from monitor.demo.server import DemoMarketplace

JS_CATALOG_PATH = Path(__file__).with_name("catalog-js.jsonl")
PREFIX = "/m2"
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

# The scripts are constants: no listing text is ever pasted into a script or
# into markup by the server; the browser puts it in with textContent.
_SEARCH_SCRIPT = """
(function () {
  "use strict";
  var results = document.getElementById("results");
  var summary = document.getElementById("summary");
  var pager = document.getElementById("pager");
  function link(cls, href, text) {
    var a = document.createElement("a");
    a.className = cls; a.href = href; a.textContent = text;
    return a;
  }
  var params = new URLSearchParams(window.location.search);
  fetch("/m2/api/search.json?" + params.toString(), {headers: {"Accept": "application/json"}})
    .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
    .then(function (data) {
      data.items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "item";
        li.appendChild(link("item-link", item.url, item.title));
        var price = document.createElement("span");
        price.className = "price";
        price.textContent = " ¥" + Number(item.price).toFixed(2);
        li.appendChild(price);
        results.appendChild(li);
      });
      summary.textContent = "“" + data.query + "” 共 " + data.total + " 件商品，第 "
        + data.page + " 页";
      if (data.prev) { pager.appendChild(link("prev", data.prev, "上一页")); }
      if (data.next) { pager.appendChild(link("next", data.next, "下一页")); }
      results.setAttribute("data-state", "ready");
    })
    .catch(function (err) {
      summary.textContent = "加载失败：" + err.message;
      results.setAttribute("data-state", "error");
    });
}());
"""

_ITEM_SCRIPT = """
(function () {
  "use strict";
  var app = document.getElementById("app");
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  function row(label, cls, text) {
    var div = el("div", cls + "-row", label);
    div.appendChild(el("span", cls, text));
    return div;
  }
  var id = app.getAttribute("data-listing-id");
  fetch("/m2/api/item/" + encodeURIComponent(id) + ".json",
        {headers: {"Accept": "application/json"}})
    .then(function (r) {
      if (r.status === 404) { return null; }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    })
    .then(function (item) {
      app.textContent = "";
      if (item === null) {
        app.appendChild(el("p", "gone", "该商品已下架"));
        app.setAttribute("data-state", "gone");
        return;
      }
      app.appendChild(el("h1", "product-name", item.title));
      var gallery = el("div", "gallery");
      item.images.forEach(function (src, n) {
        var img = el("img", "gallery-photo");
        img.src = src; img.width = item.image_size; img.height = item.image_size;
        img.alt = "商品图" + (n + 1);
        gallery.appendChild(img);
      });
      app.appendChild(gallery);
      var price = el("div", "price", "¥");
      price.appendChild(el("span", "price-value",
        item.price === null ? "" : Number(item.price).toFixed(2)));
      app.appendChild(price);
      app.appendChild(row("规格：", "spec", item.quantity));
      app.appendChild(row("发货地：", "ship-from", item.ship_from));
      var card = el("div", "seller-card");
      card.setAttribute("data-seller-id", item.seller.id);
      card.appendChild(el("span", "seller-label", "店铺："));
      card.appendChild(el("span", "seller-name", item.seller.name));
      app.appendChild(card);
      app.appendChild(el("p", "desc", item.description));
      app.setAttribute("data-state", "ready");
    })
    .catch(function (err) {
      app.textContent = "加载失败：" + err.message;
      app.setAttribute("data-state", "error");
    });
}());
"""

_SEARCH_FORM = (
    f'<form class="search" action="{PREFIX}/search" method="get">'
    '<input type="text" name="q" placeholder="搜索好物">'
    '<button type="submit">搜索</button></form>'
)


def _page(title: str, body: str, script: str = "") -> str:
    """A whole HTML document of the JS shop; `title` is escaped, `body` must be safe."""
    tail = f"<script>{script}</script>\n" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)} - 云集好物</title>\n"
        "<style>body{font-family:sans-serif;margin:24px}"
        ".gallery img{margin:4px}.seller-card{margin:8px 0;color:#555}</style>\n"
        "</head>\n<body>\n"
        f'<header><a href="{PREFIX}/">云集好物</a> (demo JS marketplace, invented listings)'
        "</header>\n"
        f"{body}\n{tail}</body>\n</html>\n"
    )


class JsMall:
    """Pages, API and images of the `/m2/` shop; `handle` answers one GET."""

    def __init__(
        self, shop: DemoMarketplace, catalog_path: str | Path | None = None, api_delay: float = 0.15
    ) -> None:
        self.shop = shop
        self.api_delay = api_delay
        self.listings = load_catalog(catalog_path or JS_CATALOG_PATH)
        self.by_id = {r["listing_id"]: r for r in self.listings}
        self._haystacks = [
            (normalize(r["title"] + "\n" + str(r.get("description") or "")), r)
            for r in self.listings
        ]

    def live(self, listing_id: str) -> dict[str, Any] | None:
        """A listing that can be opened (delisted ones are only in the search index)."""
        listing = self.by_id.get(listing_id)
        return None if listing is None or listing.get("delisted") else listing

    def search(self, query: str) -> list[dict[str, Any]]:
        """Hits of a normalized substring search, delisted listings included (a stale index)."""
        needle = normalize(query)
        return [r for hay, r in self._haystacks if needle and needle in hay]

    def image_url(self, listing_id: str, number: int) -> str:
        return f"{self.shop.base_url}{PREFIX}/img/{quote(listing_id)}/{number}.png"

    # -- pages ---------------------------------------------------------------

    def home_page(self) -> str:
        body = (
            "<h1>云集好物</h1>\n"
            f"{_SEARCH_FORM}\n"
            "<p>页面由脚本渲染；本站商品、店铺均为虚构，仅用于演示监测流程。</p>"
        )
        return _page("首页", body)

    def search_page(self) -> str:
        body = (
            f"{_SEARCH_FORM}\n"
            '<main class="search-page">\n'
            '<p class="summary" id="summary">正在搜索…</p>\n'
            '<ul class="results" id="results" data-state="loading"></ul>\n'
            '<nav class="pager" id="pager"></nav>\n'
            "</main>"
        )
        return _page("搜索", body, _SEARCH_SCRIPT)

    def item_page(self, listing_id: str) -> str:
        body = (
            f'<main class="item-detail" id="app" data-listing-id="{html.escape(listing_id)}" '
            'data-state="loading"><p class="loading">加载中…</p></main>'
        )
        return _page("商品详情", body, _ITEM_SCRIPT)

    # -- API -----------------------------------------------------------------

    def search_api(self, query: str, page: int) -> dict[str, Any]:
        results = self.search(query)
        start = (page - 1) * PAGE_SIZE
        shown = results[start : start + PAGE_SIZE]

        def page_url(n: int) -> str:
            return f"{PREFIX}/search?q={quote(query)}&page={n}"

        return {
            "query": query,
            "page": page,
            "total": len(results),
            "items": [
                {
                    "id": r["listing_id"],
                    "title": r["title"],
                    "price": r.get("price"),
                    "url": f"{PREFIX}/item/{quote(r['listing_id'])}",
                }
                for r in shown
            ],
            "prev": page_url(page - 1) if page > 1 and start - PAGE_SIZE < len(results) else None,
            "next": page_url(page + 1) if start + PAGE_SIZE < len(results) else None,
        }

    def item_api(self, listing: dict[str, Any]) -> dict[str, Any]:
        lid = listing["listing_id"]
        return {
            "id": lid,
            "title": listing["title"],
            "description": listing.get("description") or "",
            "price": listing.get("price"),
            "quantity": listing.get("quantity") or "",
            "ship_from": listing.get("ship_from") or "",
            "seller": {"id": listing["seller_id"], "name": listing.get("seller_name") or ""},
            "images": [self.image_url(lid, n) for n in range(1, _image_count(listing) + 1)],
            "image_size": IMAGE_SIZE,
        }

    # -- routing ---------------------------------------------------------------

    def handle(self, path: str, query: str) -> tuple[int, bytes, str]:
        """(status, body, content type) for a GET of `path` (under /m2) with `query`."""
        from monitor.demo.server import render_image

        shop = self.shop
        rest = path[len(PREFIX) :] or "/"
        params = parse_qs(query)
        if rest in ("/", "/index.html"):
            shop.count("m2_home")
            return HTTPStatus.OK, self.home_page().encode(), HTML_TYPE
        if rest == "/search":
            shop.count("m2_search")
            return HTTPStatus.OK, self.search_page().encode(), HTML_TYPE
        if rest.startswith("/item/"):
            listing_id = rest[len("/item/") :]
            if listing_id not in self.by_id:
                return self._not_found()
            shop.count("m2_item")
            return HTTPStatus.OK, self.item_page(listing_id).encode(), HTML_TYPE
        if rest == "/api/search.json":
            shop.count("m2_api_search")
            text = params.get("q", [""])[0]
            try:
                page = max(1, int(params.get("page", ["1"])[0]))
            except ValueError:
                page = 1
            return HTTPStatus.OK, _json(self.search_api(text, page)), JSON_TYPE
        if rest.startswith("/api/item/") and rest.endswith(".json"):
            shop.count("m2_api_item")
            if self.api_delay > 0:
                time.sleep(self.api_delay)  # a slow backend: data arrives after the load event
            listing = self.live(rest[len("/api/item/") : -len(".json")])
            if listing is None:
                return HTTPStatus.NOT_FOUND, _json({"error": "not found"}), JSON_TYPE
            return HTTPStatus.OK, _json(self.item_api(listing)), JSON_TYPE
        if rest.startswith("/img/") and rest.endswith(".png"):
            parts = rest[len("/img/") : -len(".png")].split("/")
            listing = self.live(parts[0]) if len(parts) == 2 else None
            if listing is None or not parts[1].isdigit():
                return self._not_found()
            number = int(parts[1])
            if not 1 <= number <= _image_count(listing):
                return self._not_found()
            shop.count("m2_img")
            return HTTPStatus.OK, render_image(listing["listing_id"], number), "image/png"
        return self._not_found()

    def _not_found(self) -> tuple[int, bytes, str]:
        self.shop.count("not_found")
        body = "<h1>404</h1>\n<p>页面不存在。</p>"
        return HTTPStatus.NOT_FOUND, _page("页面不存在", body).encode(), HTML_TYPE


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")
