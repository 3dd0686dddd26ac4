"""Interrupting a crawl and resuming it: the day ends with every listing exactly once.

Each crawl runs as a subprocess of `monitor.crawl.runner` against a
deliberately slow marketplace on 127.0.0.1; once it has fetched some listing
pages it gets SIGINT (or SIGTERM), the way an operator's Ctrl-C or a
scheduler's stop would reach it. The same command is then run again. The
tests check that it continued from its queue (no page fetched twice, the
search not repeated), that the day files hold the interrupted run's share and
the resumed run's together, and that the day's files were untouched while
the crawl was incomplete.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from monitor.crawl.browser import chromium_problem
from monitor.crawl.sources import load_source
from monitor.demo.server import DemoMarketplace

from .http_fixture import LoggingServer

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 21)
LISTINGS = 24
CHROMIUM_MISSING = chromium_problem()
# Few requests in flight: a stopped crawl finishes those before it saves its queue.
SLOW_SETTINGS = ["-s", "CONCURRENT_REQUESTS=2", "-s", "AUTOTHROTTLE_ENABLED=false"]


class SlowShop(LoggingServer):
    """Search pages of 10 links with pagination; every listing page takes `delay` seconds."""

    def __init__(self, delay: float = 0.25) -> None:
        super().__init__()
        self.delay = delay
        self.start()

    def item_hits(self) -> Counter[str]:
        with self.lock:
            return Counter({p: n for p, n in self.hits.items() if p.startswith("/item/")})

    def respond(self, path: str, hits: int) -> tuple[int, str | bytes, str]:
        if path.startswith("/img/"):  # each listing's image: its own bytes
            return 200, b"\x89PNG image " + path.encode("ascii"), "image/png"
        status, body = self.page(path)
        return status, body, "text/html; charset=utf-8"

    def page(self, path: str) -> tuple[int, str]:
        parts = urlsplit(path)
        if parts.path == "/robots.txt":
            return 200, "User-agent: *\nDisallow: /private/\n"
        if parts.path == "/search":
            page = int(parse_qs(parts.query).get("page", ["1"])[0])
            first = (page - 1) * 10 + 1
            links = "".join(
                f'<a class="item-link" href="/item/{i}">{i}</a>'
                for i in range(first, min(first + 10, LISTINGS + 1))
            )
            more = page * 10 < LISTINGS
            nxt = f'<a class="next" href="/search?q=goji&amp;page={page + 1}">n</a>' if more else ""
            return 200, f'<html><head><meta charset="utf-8"></head><body>{links}{nxt}</body></html>'
        if parts.path.startswith("/item/"):
            time.sleep(self.delay)
            lid = parts.path.rsplit("/", 1)[1]
            product = {
                "@context": "https://schema.org", "@type": "Product", "name": f"宁夏枸杞 第{lid}号",
                "image": f"/img/{lid}.png",
                "offers": {"price": 30, "priceCurrency": "CNY",
                           "seller": {"name": f"店{lid}", "identifier": f"s-{lid}"}},
            }
            ld = json.dumps(product, ensure_ascii=False)
            return 200, (
                '<html><head><meta charset="utf-8">'
                f'<script type="application/ld+json">{ld}</script></head><body></body></html>'
            )
        return 404, "not found"


def start_runner(*args: str) -> subprocess.Popen[str]:
    """The runner in a session of its own, so that a signal can go to its whole group."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.crawl.runner", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )


def interrupt_after(
    proc: subprocess.Popen[str],
    progressed: Callable[[], bool],
    sig: int,
    timeout: float = 90,
    group: bool = False,
) -> tuple[str, str]:
    """Send `sig` once `progressed()` holds; return the process's output after it exits.

    `group`: to every process of the crawl (the browser's driver too), as a
    terminal's Ctrl-C or a service manager's stop does; else to the runner only.
    """
    try:
        deadline = time.monotonic() + timeout
        while not progressed():
            assert proc.poll() is None, "the crawl ended before it could be interrupted"
            assert time.monotonic() < deadline, "the crawl made no progress"
            time.sleep(0.05)
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        return proc.communicate(timeout=120)
    except BaseException:
        if proc.poll() is None:  # leave no crawl behind a failed test
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        raise


def read_listings(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def warc_records(path: Path) -> list[tuple[str, str | None, bytes]]:
    out = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            out.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                        record.raw_stream.read()))
    return out


def slow_crawl(tmp_path: Path, shop: SlowShop) -> tuple[Path, list[str]]:
    """A source file for the slow shop; returns the data folder and the runner's arguments."""
    source = tmp_path / "slow-mall.yaml"
    source.write_text(
        "name: slow-mall\nallowed_domains: [127.0.0.1]\n"
        f'search_url: "{shop.base}/search?q={{query}}"\n'
        'listing_links: "a.item-link"\nnext_page: "a.next"\n',
        encoding="utf-8",
    )
    data = tmp_path / "data"
    args = ["--source", str(source), "--date", DAY.isoformat(), "--data", str(data),
            "--term", "goji", *SLOW_SETTINGS]
    return data, args


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_crawl_resumes_from_its_queue(tmp_path: Path, sig: int) -> None:
    shop = SlowShop()
    data, args = slow_crawl(tmp_path, shop)
    day_dir = data / "raw" / "slow-mall" / DAY.isoformat()
    job_dir = data / "jobs" / "slow-mall" / DAY.isoformat()
    # files of an earlier, finished run of the day: an interrupted run must not touch them
    day_dir.mkdir(parents=True)
    (day_dir / "listings.jsonl").write_text("earlier run\n", encoding="utf-8")
    try:
        first = start_runner(*args)
        stdout, stderr = interrupt_after(first, lambda: len(shop.item_hits()) >= 5, sig)
        assert first.returncode == 1, stderr[-3000:]
        summary = json.loads(stdout)
        partial = summary["stats"]["items"]
        assert summary["stats"]["finish_reason"] == "shutdown"
        assert 0 < partial < LISTINGS, "interrupted too late to test resuming"
        assert "run the same command again to resume" in stderr
        assert Path(summary["job_dir"]) == job_dir.resolve()
        assert (day_dir / "listings.jsonl").read_text(encoding="utf-8") == "earlier run\n"
        assert sorted(p.name for p in day_dir.iterdir()) == ["listings.jsonl"]  # no temp files
        assert json.loads((job_dir / "job.json").read_text())["state"] == "suspended"
        assert len(read_listings(job_dir / "parts" / "001" / "listings.jsonl")) == partial
        searched = Counter({p: n for p, n in shop.hits.items() if p.startswith("/search")})

        second = subprocess.run(first.args, cwd=REPO, capture_output=True, text=True,
                                timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert second.returncode == 0, second.stderr[-3000:]
    finally:
        shop.stop()

    final = json.loads(second.stdout)
    assert final["resumed"] is True
    listings = read_listings(day_dir / "listings.jsonl")
    ids = [r["listing_id"] for r in listings]
    assert sorted(ids, key=int) == [str(i) for i in range(1, LISTINGS + 1)]  # all, once each
    # it continued from its queue: no listing page and no search page fetched twice
    assert set(shop.item_hits().values()) == {1} and len(shop.item_hits()) == LISTINGS
    assert all(shop.hits[p] == n for p, n in searched.items())
    records = warc_records(day_dir / "pages.warc.gz")
    assert [t for t, _, _ in records].count("warcinfo") == 2  # one per run
    uris = [u for t, u, _ in records if t == "response"]
    assert sorted(uris) == sorted(f"{shop.base}/item/{i}" for i in range(1, LISTINGS + 1))
    bodies = {u: b for t, u, b in records if t == "response"}
    for listing in listings:
        ev = listing["evidence"]
        assert Path(ev["warc_path"]) == (day_dir / "pages.warc.gz").resolve()
        assert ev["sha256"] == hashlib.sha256(bodies[listing["url"]]).hexdigest()
    stats = json.loads((day_dir / "stats.json").read_text(encoding="utf-8"))
    assert stats == final["stats"]
    assert stats["runs"] == 2 and stats["items"] == LISTINGS and stats["pages"] == LISTINGS
    assert stats["finish_reason"] == "finished" and stats["pages_per_second"] > 0
    assert not job_dir.exists()  # done: the next run of the day is a fresh re-crawl
    # the image manifest: the interrupted run's part and the resumed run's, each URL once
    images = read_listings(day_dir / "images.jsonl")
    assert sorted(r["url"] for r in images) == sorted(r["image_urls"][0] for r in listings)
    assert {r["status"] for r in images} == {"ok"}
    assert all(Path(r["path"]).is_file() for r in images)
    assert stats["images_ok"] == LISTINGS
    assert all(n == 1 for p, n in shop.hits.items() if p.startswith("/img/"))


def test_hard_killed_crawl_starts_over(tmp_path: Path) -> None:
    """After SIGKILL the saved queue cannot be trusted: the next run crawls the day afresh."""
    shop = SlowShop(delay=0.1)
    data, args = slow_crawl(tmp_path, shop)
    try:
        first = start_runner(*args)
        interrupt_after(first, lambda: len(shop.item_hits()) >= 3, signal.SIGKILL)
        second = subprocess.run(first.args, cwd=REPO, capture_output=True, text=True,
                                timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        shop.stop()
    assert second.returncode == 0, second.stderr[-3000:]
    assert "did not stop cleanly; starting over" in second.stderr
    summary = json.loads(second.stdout)
    assert summary["resumed"] is False and summary["stats"]["runs"] == 1
    day_dir = data / "raw" / "slow-mall" / DAY.isoformat()
    assert len(read_listings(day_dir / "listings.jsonl")) == LISTINGS
    # the killed run's temporary files are gone
    assert sorted(p.name for p in day_dir.iterdir()) == [
        "images.jsonl", "listings.jsonl", "pages.warc.gz", "stats.json"
    ]


@pytest.mark.browser
@pytest.mark.skipif(bool(CHROMIUM_MISSING),
                    reason=f"render: browser needs Chromium: {CHROMIUM_MISSING}")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_browser_crawl_resumes_with_its_dom_and_screenshots(
    tmp_path: Path, sig: int
) -> None:
    """The signal goes to the whole process group, as from a terminal or systemd: the
    browser and Playwright's driver keep working while Scrapy stops gracefully."""
    with DemoMarketplace(port=0, api_delay=0.4) as demo:
        bundled = Path(load_source("demo-js-mall").path).read_text(encoding="utf-8")
        source = tmp_path / "demo-js-mall.yaml"
        source.write_text(bundled.replace("http://127.0.0.1:8700", demo.base_url),
                          encoding="utf-8")
        data = tmp_path / "data"
        args = ["--source", str(source), "--date", DAY.isoformat(), "--data", str(data),
                "--term", "ml", *SLOW_SETTINGS]
        first = start_runner(*args)
        stdout, stderr = interrupt_after(first, lambda: demo.hits["m2_api_item"] >= 3, sig,
                                         group=True)
        assert first.returncode == 1, stderr[-3000:]
        partial = json.loads(stdout)["stats"]["items"]
        part = data / "jobs" / "demo-js-mall" / DAY.isoformat() / "parts" / "001"
        assert len(list((part / "dom").iterdir())) == partial > 0
        item_pages = demo.hits["m2_item"]
        second = subprocess.run(first.args, cwd=REPO, capture_output=True, text=True,
                                timeout=180, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert second.returncode == 0, second.stderr[-3000:]
        found = {r["listing_id"]: r for r in demo.js.search("ml")}
        expected = {lid for lid, r in found.items() if not r.get("delisted")}
        # every listing page was opened once over both runs: nothing was lost in flight
        assert demo.hits["m2_item"] == len(found) >= item_pages
    day_dir = data / "raw" / "demo-js-mall" / DAY.isoformat()
    listings = read_listings(day_dir / "listings.jsonl")
    ids = [r["listing_id"] for r in listings]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert sorted(p.stem for p in (day_dir / "dom").iterdir()) == sorted(ids)
    assert sorted(p.stem for p in (day_dir / "screenshots").iterdir()) == sorted(ids)
    for listing in listings:
        ev = listing["evidence"]
        for key in ("dom", "screenshot"):
            path = Path(ev[f"{key}_path"])
            assert path.parent.parent == day_dir.resolve()
            assert hashlib.sha256(path.read_bytes()).hexdigest() == ev[f"{key}_sha256"]
    assert json.loads((day_dir / "stats.json").read_text())["runs"] == 2
