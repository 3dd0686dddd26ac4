"""Benchmark: crawl throughput, HTTP against browser, with a plain urllib baseline.

    python -m monitor.benchmarks.crawl [--terms N] [--polite] [--keep DIR]

Starts the demo server on a free port of 127.0.0.1 and crawls, each in a
process of its own as in production, with the watchlists' search terms (or
the first N):

- `demo-mall`, the static shop, over HTTP (Scrapy's own download handler);
- `demo-js-mall`, the JavaScript shop, in headless Chromium (scrapy-playwright),
  with its DOM and full-page screenshot kept per listing.

Both crawls run with AutoThrottle off by default, to measure what the crawler
can do rather than how polite it is; `--polite` adds a second pair of crawls
with the project's settings as they are (AutoThrottle on). It prints listing
pages per second as the crawl's own stats measured them (pages over the
crawl's running time, search pages and the browser's start included) and as
wall time of the whole process (interpreter and Scrapy start-up included),
and requests per second (search pages included: for a browser source every
one of them is a rendered page too).

Baseline, in the same run: the same listing pages each crawl fetched, fetched
one after the other with `urllib.request` — no parsing, no evidence, no
browser. For the JS shop that fetch gets only the empty page shell, which is
exactly why that shop needs the browser.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from monitor.crawl.browser import chromium_problem
from monitor.crawl.sources import load_source
from monitor.crawl_stage import search_terms
from monitor.demo.server import DemoMarketplace
from monitor.watchlist import load_rights

REPO = Path(__file__).resolve().parents[2]
BUNDLED_BASE = "http://127.0.0.1:8700"


@dataclass(frozen=True)
class CrawlRun:
    """One benchmarked crawl."""

    source: str
    render: str
    mode: str
    stats: dict[str, Any]
    wall_seconds: float
    detail_urls: list[str]

    @property
    def wall_pages_per_second(self) -> float:
        return self.stats["pages"] / self.wall_seconds if self.wall_seconds else 0.0


def detail_urls(warc: Path) -> list[str]:
    """The listing pages a crawl fetched: the target URIs of its WARC's response records."""
    urls = []
    with warc.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                urls.append(record.rec_headers.get_header("WARC-Target-URI"))
    return urls


def run_crawl(
    name: str, base_url: str, terms: list[str], workdir: Path, polite: bool
) -> CrawlRun:
    """Crawl one bundled demo source in a subprocess; return its stats and timing."""
    source = load_source(name)
    text = Path(source.path).read_text(encoding="utf-8").replace(BUNDLED_BASE, base_url)
    path = workdir / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    mode = "polite" if polite else "unthrottled"
    cmd = [
        sys.executable, "-m", "monitor.crawl.runner", "--source", str(path),
        "--data", str(workdir / mode), "--fresh", "--set", "LOG_LEVEL=WARNING",
    ]
    if not polite:
        cmd += ["--set", "AUTOTHROTTLE_ENABLED=false"]
    for term in terms:
        cmd += ["--term", term]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"crawl of {name} failed: {proc.stderr.strip()[-2000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return CrawlRun(name, source.render, mode, summary["stats"], wall,
                    detail_urls(Path(summary["warc_path"])))


def baseline(urls: list[str]) -> tuple[int, float]:
    """(pages, seconds) to GET every URL once, in order, with urllib and no parsing."""
    started = time.perf_counter()
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
    return len(urls), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.benchmarks.crawl",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--terms", type=int, default=0,
                        help="use only the first N watchlist search terms (default: all)")
    parser.add_argument("--polite", action="store_true",
                        help="also crawl with the project settings as they are (AutoThrottle)")
    parser.add_argument("--watchlists", default=str(REPO / "watchlists"))
    parser.add_argument("--keep", help="keep the crawled raw zone in this folder")
    args = parser.parse_args(argv)

    terms = search_terms(load_rights(Path(args.watchlists)))
    if args.terms:
        terms = terms[: args.terms]
    sources = ["demo-mall", "demo-js-mall"]
    problem = chromium_problem()
    if problem:
        print(f"demo-js-mall skipped: render: browser needs Chromium: {problem}")
        sources.remove("demo-js-mall")

    runs: list[CrawlRun] = []
    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        with DemoMarketplace(port=0) as market:
            for polite in (False, True) if args.polite else (False,):
                for name in sources:
                    runs.append(run_crawl(name, market.base_url, terms, workdir, polite))
            baselines = {name: baseline(next(r.detail_urls for r in runs if r.source == name))
                         for name in sources}

    print(f"crawl benchmark: demo marketplaces on 127.0.0.1, {len(terms)} search terms, "
          f"Chromium {'absent' if problem else 'present'}")
    header = (f"{'source':<14}{'render':<9}{'mode':<13}{'pages':>6}{'requests':>10}"
              f"{'crawl s':>9}{'pages/s':>9}{'req/s':>8}{'wall s':>8}{'wall p/s':>10}")
    print(header)
    print("-" * len(header))
    for run in runs:
        s = run.stats
        print(f"{run.source:<14}{run.render:<9}{run.mode:<13}{s['pages']:>6}{s['requests']:>10}"
              f"{s['duration_seconds']:>9.2f}{s['pages_per_second']:>9.2f}"
              f"{s['requests_per_second']:>8.2f}"
              f"{run.wall_seconds:>8.2f}{run.wall_pages_per_second:>10.2f}")
    print("pages: listing pages; requests: every page the crawl fetched or rendered "
          "(search pages, robots.txt); crawl s: the crawl's own running time; wall s: the "
          "whole process")
    print()
    print("baseline: the same listing pages, fetched sequentially with urllib (no parsing, "
          "no evidence, no browser)")
    for name, (pages, seconds) in baselines.items():
        rate = pages / seconds if seconds else 0.0
        print(f"{name:<14}{pages:>6} pages {seconds:>8.2f}s {rate:>9.2f} pages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
