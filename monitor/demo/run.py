"""`monitor demo`: the whole day against the bundled demo marketplace.

Starts the demo marketplace on 127.0.0.1, crawls it with the real spider in a
process of its own (Scrapy's reactor runs once per process), loads, matches and
exports exactly as the daily pipeline does, and summarizes. Running it twice on
one day changes nothing: every stage replaces its day.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from monitor.crawl.sources import resolve_source_path
from monitor.demo.server import DemoMarketplace
from monitor.errors import UserError
from monitor.export import export_leads
from monitor.leads import match_days
from monitor.warehouse import Warehouse
from monitor.watchlist import load_rights

DEMO_SOURCE = "demo-mall"


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

    def render(self) -> str:
        lines = [f"demo marketplace at {self.base_url}, crawl day {self.day}"]
        lines.extend("  " + line for line in self.crawl_output.strip().splitlines())
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


def _source_for(base_url: str, workdir: Path) -> Path:
    """The bundled demo source, pointed at the port the marketplace really got."""
    bundled = resolve_source_path(DEMO_SOURCE)
    data = yaml.safe_load(bundled.read_text(encoding="utf-8"))
    data["search_url"] = data["search_url"].replace("http://127.0.0.1:8700", base_url)
    path = workdir / f"{DEMO_SOURCE}.yaml"
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


def run_demo(
    *, db: Path, watchlists: Path, data: Path, out: Path, day: date, port: int = 8700
) -> DemoSummary:
    """Run the demo day end to end and return its summary."""
    rights = load_rights(watchlists)
    market = _start(port)
    try:
        with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
            source = _source_for(market.base_url, Path(tmp))
            cmd = [
                sys.executable, "-m", "monitor.cli", "--db", str(db),
                "--watchlists", str(watchlists), "--data", str(data),
                "crawl", str(source), "--date", day.isoformat(),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(),
                                  check=False)
    finally:
        market.stop()
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["crawl failed"])[-1]
        raise UserError(f"demo crawl failed: {last}")
    with Warehouse(db) as wh:
        summary = match_days(wh, rights, [day])
        result = export_leads(wh, rights, out)
    return DemoSummary(
        day=day,
        base_url=market.base_url,
        crawl_output=proc.stdout,
        listings_on_day=summary.listings,
        leads=summary.leads,
        by_right_priority=summary.by_right_priority,
        csv_path=result.path,
        csv_rows=result.rows,
        db=db,
    )
