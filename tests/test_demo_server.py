"""The demo marketplace over real HTTP, and the labels its catalog carries.

The spider and `monitor demo` rely on this server's HTML contract and the demo's
end-to-end check relies on the catalog labels following LEAD_RULES.md, so both
are tested here against a live server on a free port.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from monitor.demo.server import DemoMarketplace, load_catalog, normalize

from .http_fixture import fetch

ROOT = Path(__file__).resolve().parents[1]
AUTHORIZED = ROOT / "watchlists" / "authorized"
RIGHTS = ("ningxia-goji", "yanchi-tan-sheep", "helan-mountain-east-wine")
REFER_CASES = {
    "exact_unauthorized",
    "traditional",
    "separators",
    "homophone",
    "similar_shape",
    "pinyin",
    "english",
    "place_product_split",
    "delocalizer",
    "impersonation",
    "expired_licence",
    "authorized_ok",
}
# Cases shown by photos (rule 3: the special mark, a copied authorized photo).
IMAGE_CASES = {"special_mark", "copied_photo"}
NEGATIVE_CASES = {"other_origin", "out_of_class", "cultivar", "breed_only", "generic", "unrelated"}
DISGUISES = {"traditional", "separators", "homophone", "similar_shape", "delocalizer"}
DEMO_DAY = date(2026, 11, 21)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def shop() -> Iterator[DemoMarketplace]:
    with DemoMarketplace(port=0) as running:
        yield running


class Links(HTMLParser):
    """Collects <a> hrefs by class, the way a CSS selector `a.item-link` would."""

    def __init__(self) -> None:
        super().__init__()
        self.by_class: dict[str, list[str]] = {}
        self.imgs: list[str] = []
        self.scripts: list[str] = []
        self._in_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a":
            for cls in (a.get("class") or "").split():
                self.by_class.setdefault(cls, []).append(a.get("href") or "")
        elif tag == "img":
            self.imgs.append(a.get("src") or "")
        elif tag == "script" and a.get("type") == "application/ld+json":
            self._in_ld = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_ld = False

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.scripts[-1] += data


def parse(body: bytes) -> Links:
    parser = Links()
    parser.feed(body.decode("utf-8"))
    return parser


def authorized() -> dict[str, dict[str, dict[str, str]]]:
    """right id -> seller id -> CSV row."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for right in RIGHTS:
        with (AUTHORIZED / f"{right}.csv").open(encoding="utf-8") as handle:
            out[right] = {row["seller_id"]: row for row in csv.DictReader(handle)}
    return out


# -- HTTP ------------------------------------------------------------------------------


def test_robots_forbids_private(shop: DemoMarketplace) -> None:
    status, ctype, body = fetch(shop.base_url + "/robots.txt")
    assert status == 200 and ctype.startswith("text/plain")
    lines = body.decode().splitlines()
    assert "User-agent: *" in lines and "Disallow: /private/" in lines
    status, ctype, _ = fetch(shop.base_url + "/private/seller-admin")
    assert status == 200 and ctype == "text/html; charset=utf-8"


def test_home_has_search_form(shop: DemoMarketplace) -> None:
    status, ctype, body = fetch(shop.base_url + "/")
    assert status == 200 and ctype == "text/html; charset=utf-8"
    text = body.decode()
    assert '<meta charset="utf-8">' in text
    assert 'action="/search"' in text and 'name="q"' in text


def test_search_paginates(shop: DemoMarketplace) -> None:
    query = "枸杞"
    expected = sorted(
        r["listing_id"] for r in shop.listings if query in normalize(r["title"] + r["description"])
    )
    assert len(expected) > 10
    seen: list[str] = []
    url = f"{shop.base_url}/search?q={quote(query)}"
    pages = 0
    while url:
        status, _, body = fetch(url)
        assert status == 200
        links = parse(body)
        items = links.by_class.get("item-link", [])
        assert len(items) <= 10
        seen += [href.rsplit("/", 1)[-1] for href in items]
        nxt = links.by_class.get("next", [])
        url = shop.base_url + nxt[0] if nxt else ""
        pages += 1
        if url:
            assert f"page={pages + 1}" in url
    assert seen == expected
    assert pages == (len(expected) + 9) // 10


def test_search_normalizes_query(shop: DemoMarketplace) -> None:
    """Full-width, upper case and spaces in the query do not change the hits."""
    plain = parse(fetch(f"{shop.base_url}/search?q=ningxia")[2]).by_class["item-link"]
    odd = parse(fetch(f"{shop.base_url}/search?q={quote('ＮＩＮＧ xia')}")[2])
    assert plain and odd.by_class["item-link"] == plain


def test_search_without_hits(shop: DemoMarketplace) -> None:
    status, _, body = fetch(f"{shop.base_url}/search?q={quote('不存在的商品xyz')}")
    links = parse(body)
    assert status == 200 and not links.by_class.get("item-link") and not links.by_class.get("next")


def test_detail_page_matches_catalog(shop: DemoMarketplace) -> None:
    listing = next(r for r in shop.listings if r["images"] >= 2)
    status, ctype, body = fetch(f"{shop.base_url}/item/{listing['listing_id']}")
    assert status == 200 and ctype == "text/html; charset=utf-8"
    text = body.decode()
    links = parse(body)
    product = json.loads(links.scripts[0])
    assert product["@type"] == "Product"
    assert product["name"] == listing["title"]
    assert product["description"] == listing["description"]
    assert product["sku"] == listing["listing_id"]
    assert product["offers"]["price"] == listing["price"]
    assert product["offers"]["priceCurrency"] == "CNY"
    assert product["offers"]["seller"]["name"] == listing["seller_name"]
    assert len(product["image"]) == listing["images"]
    assert all(u.startswith(shop.base_url + "/img/") for u in product["image"])
    assert links.imgs == product["image"]
    assert f'data-seller-id="{listing["seller_id"]}"' in text
    assert f'<span class="qty">{listing["quantity"]}</span>' in text
    assert f'<em class="origin">{listing["ship_from"]}</em>' in text


def test_every_detail_page_round_trips(shop: DemoMarketplace) -> None:
    """Escaping never breaks a page: each JSON-LD parses and keeps the exact title."""
    for listing in shop.listings:
        body = fetch(f"{shop.base_url}/item/{listing['listing_id']}")[2]
        product = json.loads(parse(body).scripts[0])
        assert product["name"] == listing["title"], listing["listing_id"]
        assert product["sku"] == listing["listing_id"]


def test_unknown_origin_is_an_empty_element(shop: DemoMarketplace) -> None:
    listing = next(r for r in shop.listings if not r["ship_from"])
    body = fetch(f"{shop.base_url}/item/{listing['listing_id']}")[2].decode()
    assert '<em class="origin"></em>' in body


def test_images_are_png(shop: DemoMarketplace) -> None:
    listing = next(r for r in shop.listings if r["images"] >= 2)
    first = fetch(f"{shop.base_url}/img/{listing['listing_id']}/1.png")
    second = fetch(f"{shop.base_url}/img/{listing['listing_id']}/2.png")
    again = fetch(f"{shop.base_url}/img/{listing['listing_id']}/1.png")
    for status, ctype, body in (first, second):
        assert status == 200 and ctype == "image/png" and body.startswith(PNG_MAGIC)
        with Image.open(io.BytesIO(body)) as img:
            img.verify()
    assert first[2] == again[2] and first[2] != second[2]


def test_not_found(shop: DemoMarketplace) -> None:
    listing = next(r for r in shop.listings if r["images"] == 0)
    for path in (
        "/item/dmx-0000",
        "/img/dmx-0000/1.png",
        f"/img/{listing['listing_id']}/1.png",
        "/nowhere",
    ):
        status, ctype, _ = fetch(shop.base_url + path)
        assert status == 404, path
        assert ctype == "text/html; charset=utf-8"


def test_counts_requests_by_kind(shop: DemoMarketplace) -> None:
    before = Counter(shop.hits)
    fetch(shop.base_url + "/robots.txt")
    fetch(shop.base_url + "/item/" + shop.listings[0]["listing_id"])
    fetch(shop.base_url + "/item/dmx-0000")
    assert shop.hits["robots"] == before["robots"] + 1
    assert shop.hits["item"] == before["item"] + 1
    assert shop.hits["not_found"] == before["not_found"] + 1


def test_free_port_and_restart() -> None:
    shop = DemoMarketplace(port=0)
    url = shop.start()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and url == shop.base_url
    assert fetch(url + "/robots.txt")[0] == 200
    shop.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/robots.txt", timeout=2)


# -- catalog labels ----------------------------------------------------------------------


def test_catalog_ids_and_fields() -> None:
    listings = load_catalog()
    assert len(listings) >= 75
    ids = [r["listing_id"] for r in listings]
    assert len(set(ids)) == len(ids)
    for r in listings:
        assert re.fullmatch(r"dmx-\d{4}", r["listing_id"])
        assert re.fullmatch(r"shop-\d{4}", r["seller_id"])
        assert r["title"] and isinstance(r["price"], int | float)
        assert 0 <= r["images"] <= 3
        assert isinstance(r["expect"], list)
        if r["expect"]:
            assert r["negative"] is None
        else:
            assert r["negative"] in NEGATIVE_CASES


def test_catalog_covers_every_case() -> None:
    listings = load_catalog()
    cases = Counter(e["case"] for r in listings for e in r["expect"])
    assert set(cases) == REFER_CASES | IMAGE_CASES
    assert min(cases[c] for c in REFER_CASES) >= 2
    assert min(cases[c] for c in IMAGE_CASES) >= 1
    per_right = {(e["right"], e["case"]) for r in listings for e in r["expect"]}
    for right in RIGHTS:
        for case in REFER_CASES:
            assert (right, case) in per_right, (right, case)
    negatives = Counter(r["negative"] for r in listings if not r["expect"])
    assert set(negatives) == NEGATIVE_CASES and sum(negatives.values()) >= 20
    priorities = Counter(e["priority"] for r in listings for e in r["expect"])
    assert {"high", "medium", "low"} <= set(priorities)


def test_catalog_labels_are_consistent() -> None:
    for r in load_catalog():
        for e in r["expect"]:
            assert e["right"] in RIGHTS
            assert e["lead"] == (e["case"] != "authorized_ok"), r["listing_id"]
            if e["lead"]:
                assert e["priority"] in ("high", "medium", "low"), r["listing_id"]
            else:
                assert e["priority"] is None, r["listing_id"]
            if e["case"] in DISGUISES:
                assert e["priority"] == "high", r["listing_id"]
            if e["priority"] in ("low", "medium"):
                # these never hinge on images (nor on repeat infringement)
                assert r["images"] == 0, r["listing_id"]
            if e["priority"] == "low":
                county = r["ship_from"].split()[-1]
                assert county.endswith(("区", "县", "市")), r["listing_id"]


def test_catalog_authorization_labels() -> None:
    auth = authorized()
    names = {
        right: {row["seller_name"]: sid for sid, row in rows.items()}
        for right, rows in auth.items()
    }
    for right, rows in auth.items():
        lapsed = [row for row in rows.values() if date.fromisoformat(row["valid_until"]) < DEMO_DAY]
        assert len(lapsed) == 1 and lapsed[0]["valid_until"] <= "2026-06-30", right
        assert 3 <= len(rows) <= 4
        assert all(row["source"] == "demo-mall" for row in rows.values())
    for r in load_catalog():
        for e in r["expect"]:
            row = auth[e["right"]].get(r["seller_id"])
            if e["case"] == "authorized_ok":
                assert row is not None, r["listing_id"]
                valid = (
                    date.fromisoformat(row["valid_from"])
                    <= DEMO_DAY
                    <= date.fromisoformat(row["valid_until"])
                )
                assert valid, r["listing_id"]
            elif e["case"] == "expired_licence":
                assert row is not None, r["listing_id"]
                assert row["valid_until"] <= "2026-06-30", r["listing_id"]
            elif e["case"] == "impersonation":
                original = names[e["right"]].get(r["seller_name"])
                assert original is not None and original != r["seller_id"], r["listing_id"]
            else:
                assert row is None, r["listing_id"]
