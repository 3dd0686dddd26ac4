"""`monitor demo`: the whole day against the bundled demo marketplaces.

Starts the demo server on 127.0.0.1 (the static shop `demo-mall` and, under
`/m2/`, the JavaScript shop `demo-js-mall`), crawls each source with the real
spider in a process of its own (Scrapy's reactor runs once per process), loads,
fetches and hashes the listing photos, matches and exports exactly as the
daily pipeline does, and summarizes.

The two crawls run side by side, as Dagster runs a day's sources, and their
day files are loaded one after the other afterwards: DuckDB takes one writer
at a time. The browser source needs Chromium; without it the demo says so and
runs with the static shop alone. Running it twice on one day changes nothing:
every stage replaces its day.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from monitor.crawl.browser import chromium_problem
from monitor.crawl.runner import format_stats
from monitor.crawl.sources import load_source, resolve_source_path
from monitor.crawl_stage import search_terms
from monitor.demo.server import DemoMarketplace
from monitor.errors import UserError
from monitor.export import export_leads
from monitor.image.stage import fetch_images
from monitor.ingest import ingest_feed
from monitor.leads import match_days
from monitor.warehouse import Warehouse
from monitor.watchlist import load_rights

DEMO_SOURCE = "demo-mall"
DEMO_JS_SOURCE = "demo-js-mall"
DEMO_SOURCES = (DEMO_SOURCE, DEMO_JS_SOURCE)
BUNDLED_BASE = "http://127.0.0.1:8700"


@dataclass
class DemoSummary:
    """What the demo day did, for the closing printout."""

    day: date
    base_url: str
    crawl_output: str
    listings_on_day: int
    leads: int
    by_right_priority: dict[tuple[str, str], int] = field(default_factory=dict)
    csv_path: Path | None = None
    csv_rows: int = 0
    db: Path | None = None
    skipped: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"demo marketplace at {self.base_url}, crawl day {self.day}"]
        lines.extend("  " + line for line in self.crawl_output.strip().splitlines())
        lines.extend(f"  {note}" for note in self.skipped)
        lines.append(f"matched {self.listings_on_day} listings: {self.leads} leads")
        rights = sorted({r for r, _ in self.by_right_priority})
        for right_id in rights:
            counts = {p: self.by_right_priority.get((right_id, p), 0)
                      for p in ("high", "medium", "low")}
            lines.append(f"  {right_id:<28} high {counts['high']:>3}  medium "
                         f"{counts['medium']:>3}  low {counts['low']:>3}")
        lines.append(f"leads CSV: {self.csv_path} ({self.csv_rows} rows, all open leads)")
        lines.append(f"warehouse: {self.db}")
        return "\n".join(lines)


def _source_for(name: str, base_url: str, workdir: Path) -> Path:
    """A bundled demo source, pointed at the port the marketplace really got."""
    bundled = resolve_source_path(name)
    data = yaml.safe_load(bundled.read_text(encoding="utf-8"))
    data["search_url"] = data["search_url"].replace(BUNDLED_BASE, base_url)
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _start(port: int) -> DemoMarketplace:
    market = DemoMarketplace(port=port)
    try:
        market.start()
    except OSError:
        market = DemoMarketplace(port=0)
        market.start()
    return market


def demo_sources() -> tuple[list[str], list[str]]:
    """(sources to crawl, notes on the ones skipped): the browser source needs Chromium."""
    crawl, skipped = [], []
    for name in DEMO_SOURCES:
        problem = chromium_problem() if load_source(name).render == "browser" else ""
        if problem:
            skipped.append(f"crawl {name} skipped: it renders in a browser and {problem}")
        else:
            crawl.append(name)
    return crawl, skipped


def run_demo(
    *, db: Path, watchlists: Path, data: Path, out: Path, day: date, port: int = 8700
) -> DemoSummary:
    """Run the demo day end to end and return its summary."""
    rights = load_rights(watchlists)
    terms = search_terms(rights)
    names, skipped = demo_sources()
    market = _start(port)
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    lines = []
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
            procs = {}
            for name in names:
                cmd = [
                    sys.executable, "-m", "monitor.crawl.runner",
                    "--source", str(_source_for(name, market.base_url, Path(tmp))),
                    "--date", day.isoformat(), "--data", str(data), "--fresh",
                    "--set", "LOG_LEVEL=WARNING",
                    # our own server on 127.0.0.1: AutoThrottle's politeness is for
                    # real marketplaces, and without it the browser shop takes a third
                    "--set", "AUTOTHROTTLE_ENABLED=false",
                ]
                for term in terms:
                    cmd += ["--term", term]
                procs[name] = subprocess.Popen(
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                    env=os.environ.copy(),
                )
            for name, proc in procs.items():
                stdout, stderr = proc.communicate()
                outputs[name] = subprocess.CompletedProcess(proc.args, proc.returncode,
                                                            stdout, stderr)
        with Warehouse(db) as wh:
            for name in names:
                proc = outputs[name]
                if proc.returncode != 0:
                    last = (proc.stderr.strip().splitlines() or ["crawl failed"])[-1]
                    raise UserError(f"demo crawl of {name} failed: {last}")
                crawl = json.loads(proc.stdout.strip().splitlines()[-1])
                result = ingest_feed(wh, Path(crawl["listings_path"]), name,
                                     evidence_root=data)
                wh.record_crawl_stats(name, day, crawl["stats"])
                loaded = result.loaded
                lines.append(format_stats(crawl["stats"]))
                lines.append(f"loaded {loaded.total} listings ({loaded.new} new, "
                             f"{loaded.changed} changed, {loaded.unchanged} unchanged) into {db}")
            # The images stage needs the marketplace still up: its photos are served there.
            images = fetch_images(wh, data, day)
            lines.append(f"images: {images.tried} new URLs ({images.from_crawl} fetched during "
                         f"the crawl), {images.fetched} good, "
                         f"{images.new_images} new images hashed, "
                         f"{sum(images.problems.values())} not used")
    finally:
        market.stop()
    with Warehouse(db) as wh:
        summary = match_days(wh, rights, [day])
        result = export_leads(wh, rights, out)
    return DemoSummary(
        day=day,
        base_url=market.base_url,
        crawl_output="\n".join(lines),
        listings_on_day=summary.listings,
        leads=summary.leads,
        by_right_priority=summary.by_right_priority,
        csv_path=result.path,
        csv_rows=result.rows,
        db=db,
        skipped=skipped,
    )
