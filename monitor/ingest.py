"""Loading listings into the warehouse: from a feed file or from a crawl's day files.

A feed is checked line by line: a malformed line is reported with its line
number and skipped, the rest loads, all in one transaction so that a failure
half-way leaves what was stored before untouched.

A day's crawls run in separate processes, in parallel, while the warehouse
takes one writer at a time; so loading the raw zone of a day is its own step
(`load_raw_day`), calling the same `ingest_feed` and `record_crawl_stats` as
`monitor crawl` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from monitor.crawl.rawzone import LISTINGS_FILE, STATS_FILE, day_dir
from monitor.errors import UserError
from monitor.listing import FeedProblem, Listing, read_feed
from monitor.warehouse import LoadResult, Warehouse


@dataclass
class IngestResult:
    """What an ingest loaded and which lines it skipped."""

    path: Path
    loaded: LoadResult
    problems: list[FeedProblem] = field(default_factory=list)


def read_listings(
    path: Path, default_source: str | None = None
) -> tuple[list[Listing], list[FeedProblem]]:
    """Parse a feed fully before anything is written; a file that cannot be read is a UserError."""
    if not path.is_file():
        raise UserError(f"{path}: no such feed file")
    listings: list[Listing] = []
    problems: list[FeedProblem] = []
    try:
        for entry in read_feed(path, default_source):
            (listings if isinstance(entry, Listing) else problems).append(entry)  # type: ignore[arg-type]
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    return listings, problems


def ingest_feed(
    wh: Warehouse, path: Path, default_source: str | None = None,
    evidence_root: Path | None = None,
) -> IngestResult:
    """Load a JSONL listing feed (DESIGN.md schema) into the warehouse.

    A crawl's own day files are loaded with `evidence_root`, the data folder:
    evidence paths inside it are then stored relative to it, so that the
    folder can be moved or handed over whole and still verify
    (`monitor --data DIR evidence verify`).
    """
    listings, problems = read_listings(path, default_source)
    if evidence_root is not None:
        listings = [_evidence_within(listing, evidence_root) for listing in listings]
    loaded = wh.load_listings(listings)
    return IngestResult(path, loaded, problems)


def _evidence_within(listing: Listing, root: Path) -> Listing:
    """`listing` with its evidence paths relative to `root` where they lie inside it."""
    evidence = listing.evidence
    if evidence is None:
        return listing
    moved = {
        name: _relative_to_root(getattr(evidence, name), root)
        for name in ("warc_path", "dom_path", "screenshot_path")
    }
    return replace(listing, evidence=replace(evidence, **moved))


def _relative_to_root(path: str, root: Path) -> str:
    """`path` relative to `root` (POSIX form) when it lies inside it, else unchanged."""
    if not path:
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


@dataclass(frozen=True)
class SourceLoad:
    """What loading one source's day files did."""

    source: str
    ingest: IngestResult
    stats: dict[str, Any] | None


def crawled_sources(data_root: Path, day: date) -> list[str]:
    """Sources whose crawl of `day` left a listings file in the raw zone, by name."""
    raw = Path(data_root) / "raw"
    if not raw.is_dir():
        return []
    return sorted(
        p.name for p in raw.iterdir() if (day_dir(data_root, p.name, day) / LISTINGS_FILE).is_file()
    )


def read_stats(path: Path) -> dict[str, Any] | None:
    """A crawl's stats.json, or None when the crawl left none (it did not finish)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a crawl stats file ({exc})") from None


def load_raw_day(wh: Warehouse, data_root: Path, day: date) -> list[SourceLoad]:
    """Load the day's listings of every crawled source, and their crawl stats.

    Idempotent: snapshots are keyed by (source, listing, day) and stats by
    (source, day), so loading a day twice stores nothing twice.
    """
    loads = []
    for source in crawled_sources(data_root, day):
        folder = day_dir(data_root, source, day)
        result = ingest_feed(wh, folder / LISTINGS_FILE, source, evidence_root=data_root)
        stats = read_stats(folder / STATS_FILE)
        if stats is not None:
            wh.record_crawl_stats(source, day, stats)
        loads.append(SourceLoad(source, result, stats))
    return loads
