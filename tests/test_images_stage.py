"""`monitor images` end to end: real HTTP on 127.0.0.1, bad images, then leads from images."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from monitor.image.marks import draw_mark
from monitor.image.synthetic import jpeg, product_photo

from .test_cli import run


def _jpeg_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims 900 megapixels (the data is never decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


AUTH_PHOTO = product_photo(777)
GOOD_JPEG = _jpeg_bytes(AUTH_PHOTO)
FILES: dict[str, tuple[str, bytes]] = {
    "/img/mark-in-photo.jpg": ("image/jpeg", _jpeg_bytes(jpeg(draw_mark("ningxia-goji")
                                                              .resize((300, 300)), 40))),
    "/img/auth.jpg": ("image/jpeg", GOOD_JPEG),
    "/img/auth-again.jpg": ("image/jpeg", GOOD_JPEG),  # same content under another URL
    "/img/copy.jpg": ("image/jpeg", _jpeg_bytes(jpeg(AUTH_PHOTO.resize((450, 350)), 25))),
    "/img/truncated.jpg": ("image/jpeg", GOOD_JPEG[: len(GOOD_JPEG) // 2]),
    "/img/html.jpg": ("image/jpeg", b"<html><body>not found</body></html>"),
    "/img/logo.svg": ("image/svg+xml",
                      b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'),
    "/img/bomb.png": ("image/png", _bomb_png()),
}
HUGE = 20 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append((self.headers.get("Host", ""), self.path))
        if self.path == "/img/huge.jpg":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(HUGE))
            self.end_headers()
            block = b"\xff" * 65536
            try:
                for _ in range(HUGE // len(block)):
                    self.wfile.write(block)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if self.path not in FILES:
            self.send_error(404)
            return
        kind, body = FILES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_images_then_leads_from_images(tmp_path: Path, watchlists: Path,
                                       image_server: str) -> None:
    base = image_server
    port = base.rsplit(":", 1)[1]
    (tmp_path / "watchlists").exists() or None
    auth = watchlists / "authorized" / "ningxia-goji.csv"
    auth.write_text(auth.read_text(encoding="utf-8")
                    + "feed-t,u-auth,杞园授权店,NX-9,2025-01-01,2028-12-31,test\n",
                    encoding="utf-8")
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "feed-t.yaml").write_text(
        "name: feed-t\nallowed_domains: [127.0.0.1]\nimage_domains: []\n", encoding="utf-8")

    def listing(lid: str, title: str, seller: str, ship_from: str, images: list[str]) -> str:
        return json.dumps({
            "source": "feed-t", "listing_id": lid, "url": f"{base}/p/{lid}", "title": title,
            "price": 128, "quantity": "500g", "seller_id": seller, "seller_name": seller,
            "ship_from": ship_from, "image_urls": images,
            "crawled_at": "2026-11-21T10:00:00+08:00"}, ensure_ascii=False)

    bad = ["truncated.jpg", "html.jpg", "logo.svg", "bomb.png", "missing.png", "huge.jpg"]
    lines = [
        listing("t-mark", "红枸杞 特级 大颗粒 500g", "u-1", "河北 邢台",
                [f"{base}/img/mark-in-photo.jpg"]),
        listing("t-auth", "宁夏枸杞 中宁头茬 500g", "u-auth", "宁夏 中卫 中宁县",
                [f"{base}/img/auth.jpg", f"{base}/img/auth-again.jpg"]),
        listing("t-copy", "宁夏枸杞 中宁 特级 500g", "u-2", "宁夏 中卫 中宁县",
                [f"{base}/img/copy.jpg"]),
        listing("t-plain", "宁夏枸杞 中宁 特级 500g", "u-3", "宁夏 中卫 中宁县", []),
        listing("t-bad", "手机壳 防摔", "u-4", "",
                [f"{base}/img/{name}" for name in bad]
                + [f"http://localhost:{port}/img/auth.jpg", "http://169.254.169.254/x.png"]),
    ]
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "watchlists").exists()
    common = ["--watchlists", str(watchlists)]
    assert run(tmp_path, *common, "ingest", "feed.jsonl").returncode == 0

    first = run(tmp_path, *common, "images", "--sources", str(sources))
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert "12 new URLs" in first.stdout

    db = tmp_path / "warehouse" / "monitor.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    fetches = dict(con.execute("SELECT url, status || ': ' || reason FROM image_fetches")
                   .fetchall())
    n_images = con.execute("SELECT count(*) FROM images").fetchone()[0]
    con.close()
    outcome = {url.rsplit("/", 1)[-1] if "127.0.0.1" in url else url: v
               for url, v in fetches.items()}
    assert outcome["truncated.jpg"] == "error: truncated image"
    assert outcome["html.jpg"] == "error: not an image"
    assert outcome["logo.svg"] == "error: not an image"
    assert outcome["bomb.png"].startswith("error: decompression bomb")
    assert outcome["missing.png"] == "error: HTTP 404"
    assert outcome["huge.jpg"].startswith("error: too large")
    assert outcome[f"http://localhost:{port}/img/auth.jpg"].startswith(
        "refused: host localhost is in neither")
    assert outcome["http://169.254.169.254/x.png"].startswith("refused: host 169.254.169.254")
    assert outcome["mark-in-photo.jpg"] == outcome["copy.jpg"] == "ok: "
    assert n_images == 3  # auth.jpg and auth-again.jpg are one content
    assert not any(host.startswith("localhost") for host, _ in _Handler.seen)

    again = run(tmp_path, *common, "images", "--sources", str(sources))
    assert "0 new URLs" in again.stdout

    assert run(tmp_path, *common, "match").returncode == 0
    out = tmp_path / "leads.csv"
    assert run(tmp_path, *common, "leads", "export", "--out", str(out)).returncode == 0
    with out.open(encoding="utf-8-sig") as handle:
        rows = {r["listing_id"]: r for r in csv.DictReader(handle)}
    assert set(rows) == {"t-mark", "t-copy", "t-plain"}
    assert rows["t-mark"]["right_id"] == "ningxia-goji"
    assert rows["t-mark"]["priority"] == "high"
    assert "special mark in image" in rows["t-mark"]["reasons"]
    assert rows["t-copy"]["priority"] == "high"
    assert "copied authorized photo" in rows["t-copy"]["reasons"]
    assert rows["t-plain"]["priority"] == "low"  # same text and origin, no copied photo


def test_crawl_manifests_are_used_not_refetched(tmp_path: Path) -> None:
    """Images the crawl already fetched are validated and hashed from the store, not fetched."""
    from monitor.image.stage import MANIFEST, fetch_images
    from monitor.warehouse import Warehouse

    from .conftest import make_listing

    nowhere = "http://127.0.0.1:9"  # the discard port: a fetch would fail, not succeed
    good = _jpeg_bytes(product_photo(4242))
    sha = hashlib.sha256(good).hexdigest()
    store = tmp_path / "data" / "images" / sha[:2]
    store.mkdir(parents=True)
    (store / f"{sha}.jpg").write_bytes(good)
    truncated = good[: len(good) // 3]
    tsha = hashlib.sha256(truncated).hexdigest()
    (store / f"{tsha}.jpg").write_bytes(truncated)
    day_dir = tmp_path / "data" / "raw" / "demo-mall" / "2026-11-21"
    day_dir.mkdir(parents=True)
    manifest = [
        {"url": f"{nowhere}/a.jpg", "status": "ok", "reason": "", "sha256": sha,
         "path": str(store / f"{sha}.jpg")},
        {"url": f"{nowhere}/t.jpg", "status": "ok", "reason": "", "sha256": tsha,
         "path": str(store / f"{tsha}.jpg")},
        {"url": f"{nowhere}/404.jpg", "status": "error", "reason": "HTTP 404"},
        {"url": "http://elsewhere.example/x.jpg", "status": "refused",
         "reason": "host elsewhere.example is in neither allowed_domains nor image_domains"},
    ]
    (day_dir / MANIFEST).write_text(
        "\n".join(json.dumps(m) for m in manifest) + "\n{torn", encoding="utf-8")
    urls = [m["url"] for m in manifest]
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.load_listings([make_listing(listing_id="a", image_urls=urls)])
        result = fetch_images(wh, tmp_path / "data", make_listing().day)
        rows = dict(wh.con.execute(
            "SELECT url, status || ': ' || reason FROM image_fetches").fetchall())
        images = wh.con.execute("SELECT sha256 FROM images").fetchall()
    assert result.from_crawl == 4 and result.fetched == 1
    assert rows[f"{nowhere}/a.jpg"] == "ok: "
    assert rows[f"{nowhere}/t.jpg"] == "error: truncated image"
    assert rows[f"{nowhere}/404.jpg"] == "error: HTTP 404"
    assert rows["http://elsewhere.example/x.jpg"].startswith("refused: host elsewhere.example")
    assert images == [(sha,)]
