"""A marketplace listing as the rest of the product sees it, and how a feed line becomes one.

The field set is the contract of DESIGN.md ("A listing"): a spider yields these
fields and a JSONL feed carries them, so both go through `parse_listing`, which
is the single place that decides what a valid listing is. Evidence of a crawled
page travels beside the listing in `evidence`; a feed has none.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from monitor.config import TZ

FIELDS = (
    "source",
    "listing_id",
    "url",
    "title",
    "description",
    "price",
    "quantity",
    "seller_id",
    "seller_name",
    "ship_from",
    "image_urls",
    "crawled_at",
)


class ListingError(ValueError):
    """A listing record that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Evidence:
    """Where the page a listing was read from is kept, and its hash."""

    sha256: str  # of the response body as received
    warc_path: str
    captured_at: str  # ISO-8601 UTC
    screenshot_path: str = ""
    screenshot_sha256: str = ""
    dom_path: str = ""  # rendered DOM of a browser page
    dom_sha256: str = ""


@dataclass(frozen=True)
class Listing:
    """One listing on one crawl day."""

    source: str
    listing_id: str
    url: str
    title: str
    seller_id: str
    crawled_at: datetime
    description: str = ""
    price: float | None = None
    quantity: str = ""
    seller_name: str = ""
    ship_from: str = ""
    image_urls: tuple[str, ...] = field(default_factory=tuple)
    evidence: Evidence | None = None

    @property
    def day(self) -> date:
        """The crawl day: the date of `crawled_at` in Asia/Shanghai."""
        return self.crawled_at.astimezone(TZ).date()

    def to_record(self) -> dict[str, Any]:
        """The feed form of this listing (JSON-serializable), evidence included if any."""
        rec = {k: getattr(self, k) for k in FIELDS}
        rec["crawled_at"] = self.crawled_at.isoformat()
        rec["image_urls"] = list(self.image_urls)
        if self.evidence is not None:
            rec["evidence"] = asdict(self.evidence)
        return rec


def _text(obj: dict[str, Any], name: str, required: bool = False) -> str:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            raise ListingError(f"field '{name}' is required")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "title":
        return str(value)
    if not isinstance(value, str):
        raise ListingError(f"field '{name}' must be a string")
    value = value.strip()
    if required and not value:
        raise ListingError(f"field '{name}' is required")
    return value


def _price(obj: dict[str, Any]) -> float | None:
    value = obj.get("price")
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ListingError("field 'price' must be a number")
    if isinstance(value, str):
        try:
            value = float(value.replace(",", "").replace("¥", "").replace("￥", "").strip())
        except ValueError:
            raise ListingError(f"field 'price' must be a number, got {value!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ListingError(f"field 'price' must be a non-negative number, got {value!r}")
    return float(value)


def _crawled_at(obj: dict[str, Any]) -> datetime:
    value = obj.get("crawled_at")
    if not isinstance(value, str) or not value:
        raise ListingError("field 'crawled_at' is required (ISO-8601 with offset)")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ListingError(f"field 'crawled_at' is not ISO-8601: {value!r}") from None
    if moment.tzinfo is None:
        raise ListingError(f"field 'crawled_at' needs a UTC offset: {value!r}")
    return moment


def _image_urls(obj: dict[str, Any]) -> tuple[str, ...]:
    value = obj.get("image_urls")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise ListingError("field 'image_urls' must be a list of strings")
    return tuple(u.strip() for u in value if u.strip())


def _evidence(obj: dict[str, Any]) -> Evidence | None:
    value = obj.get("evidence")
    if not value:
        return None
    if not isinstance(value, dict) or not value.get("sha256"):
        raise ListingError("field 'evidence' must be an object with 'sha256'")
    known = {k: str(value.get(k) or "") for k in Evidence.__dataclass_fields__}
    return Evidence(**known)


def parse_listing(obj: Any, default_source: str | None = None) -> Listing:
    """Validate one decoded feed object and build a Listing.

    Raises ListingError naming the first bad field.
    """
    if not isinstance(obj, dict):
        raise ListingError("a listing must be a JSON object")
    source = _text(obj, "source") or (default_source or "")
    if not source:
        raise ListingError("field 'source' is required (or pass --source)")
    return Listing(
        source=source,
        listing_id=_text(obj, "listing_id", required=True),
        url=_text(obj, "url"),
        title=_text(obj, "title", required=True),
        description=_text(obj, "description"),
        price=_price(obj),
        quantity=_text(obj, "quantity"),
        seller_id=_text(obj, "seller_id", required=True),
        seller_name=_text(obj, "seller_name"),
        ship_from=_text(obj, "ship_from"),
        image_urls=_image_urls(obj),
        crawled_at=_crawled_at(obj),
        evidence=_evidence(obj),
    )


@dataclass(frozen=True)
class FeedProblem:
    """A line of a feed that was skipped, and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def read_feed(
    path: Path, default_source: str | None = None
) -> Iterator[Listing | FeedProblem]:
    """Yield a Listing per good line and a FeedProblem per bad one; blank lines are skipped."""
    with path.open("r", encoding="utf-8-sig", errors="strict") as handle:
        line_no = 0
        while True:
            try:
                line = handle.readline()
            except UnicodeDecodeError as exc:
                yield FeedProblem(str(path), line_no + 1, f"not UTF-8 ({exc.reason})")
                return
            if not line:
                return
            line_no += 1
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield FeedProblem(str(path), line_no, f"not valid JSON ({exc.msg})")
                continue
            try:
                yield parse_listing(obj, default_source)
            except ListingError as exc:
                yield FeedProblem(str(path), line_no, str(exc))
