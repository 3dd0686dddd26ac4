"""Loading listings into the warehouse: from a feed file or from a crawl's day files.

A feed is checked line by line: a malformed line is reported with its line
number and skipped, the rest loads, all in one transaction so that a failure
half-way leaves what was stored before untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


def ingest_feed(wh: Warehouse, path: Path, default_source: str | None = None) -> IngestResult:
    """Load a JSONL listing feed (DESIGN.md schema) into the warehouse."""
    listings, problems = read_listings(path, default_source)
    loaded = wh.load_listings(listings)
    return IngestResult(path, loaded, problems)
