"""Where a seller ships from, relative to a right's protected area.

`ship_from` is free text as a marketplace shows it (`宁夏 中卫`, `青海省格尔木市`,
`北京`). cpca resolves it to China's administrative codes (province, city,
county), which makes "is this inside the protected area?" a comparison of
codes rather than of spellings, and gives each lead the jurisdiction an
enforcement bureau is responsible for.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

INSIDE, OUTSIDE, UNKNOWN = "inside", "outside", "unknown"


@dataclass(frozen=True)
class Place:
    """A resolved place: administrative names and the six-digit adcode."""

    province: str
    city: str
    county: str
    adcode: str

    @property
    def level(self) -> str:
        """'county', 'city', 'province' or '' for the finest level the text gave."""
        if not self.adcode:
            return ""
        if self.county and self.adcode[4:] != "00":
            return "county"
        if self.city and self.adcode[2:4] != "00":
            return "city"
        return "province"

    @property
    def jurisdiction(self) -> str:
        """Province, city and county names, as far as known (for routing leads)."""
        return " ".join(p for p in (self.province, self.city, self.county) if p)


def _clean(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


@lru_cache(maxsize=1)
def _cpca():  # noqa: ANN202 - module object
    logging.getLogger("jieba").setLevel(logging.WARNING)
    import cpca

    return cpca


@lru_cache(maxsize=20000)
def parse_place(text: str) -> Place | None:
    """Resolve free text to a Place, or None when it names no known place."""
    text = (text or "").strip()
    if not text:
        return None
    frame = _cpca().transform([text])
    row = frame.iloc[0]
    adcode = _clean(row.get("adcode"))
    if not adcode or not _clean(row.get("省")):
        return None
    adcode = adcode.split(".")[0].ljust(6, "0")
    return Place(_clean(row.get("省")), _clean(row.get("市")), _clean(row.get("区")), adcode)


def parse_area(entry: str) -> Place:
    """Resolve one protected-area entry; it must name a county or district."""
    place = parse_place(entry)
    if place is None or place.level != "county":
        raise ValueError(f"protected area {entry!r} does not name a known county or district")
    return place


@dataclass(frozen=True)
class Area:
    """A protected area as a set of county adcodes."""

    counties: frozenset[str]

    @classmethod
    def from_entries(cls, entries: tuple[str, ...] | list[str]) -> Area:
        return cls(frozenset(parse_area(e).adcode for e in entries))

    def relation(self, ship_from: str) -> tuple[str, Place | None]:
        """INSIDE, OUTSIDE or UNKNOWN for a ship_from text, with the resolved place.

        Rule 3 of LEAD_RULES: another province is outside; in the area's own
        province the finest level given decides: a county in the area is
        inside, any other county is outside, a city none of whose counties is
        in the area is outside, and a city that holds part of the area (or the
        province alone) cannot be decided.
        """
        place = parse_place(ship_from)
        if place is None or not self.counties:
            return UNKNOWN, place
        code = place.adcode
        if code[:2] not in {c[:2] for c in self.counties}:
            return OUTSIDE, place
        level = place.level
        if level == "county":
            return (INSIDE if code in self.counties else OUTSIDE), place
        if level == "city":
            return (UNKNOWN if code[:4] in {c[:4] for c in self.counties} else OUTSIDE), place
        return UNKNOWN, place


def jurisdiction(ship_from: str) -> str:
    """The administrative names of where a seller ships from ('' if unknown)."""
    place = parse_place(ship_from)
    return place.jurisdiction if place else ""
