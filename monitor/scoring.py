"""From "refers to a right" to a lead with a priority and its reasons (rules 2 and 3).

Authorization is decided by the marketplace's seller id and the licence dates
on the crawl day, never by the shop name; a shop name copied from an
authorized shop under another seller id is called out as impersonation.
Priority follows rule 3 exactly: any high reason makes it high, otherwise a
seller shipping from inside the protected area makes it low, otherwise medium.
The score only orders leads within a priority: how sure the reference is, plus
how many reasons for urgency there are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from monitor.image.matching import ImageHit
from monitor.listing import Listing
from monitor.places import INSIDE, OUTSIDE, Area
from monitor.quantity import unit_price
from monitor.text.matcher import RightMatch
from monitor.text.normalize import normalize_plain
from monitor.watchlist import Authorization, Right

PRIORITIES = ("low", "medium", "high")
REPEAT_DAYS = 2  # leads on this many earlier days make a repeat infringer


@dataclass
class Assessment:
    """The verdict on one listing for one right it refers to."""

    right_id: str
    lead: bool
    priority: str | None
    score: float
    reasons: list[str] = field(default_factory=list)
    authorized_by: Authorization | None = None

    @property
    def reasons_text(self) -> str:
        return "; ".join(self.reasons)


@lru_cache(maxsize=64)
def _area(entries: tuple[str, ...]) -> Area:
    return Area.from_entries(entries)


def authorization_for(right: Right, listing: Listing) -> Authorization | None:
    """The licence that covers this seller on this marketplace on the crawl day."""
    for auth in right.authorized:
        if (
            auth.source == listing.source
            and auth.seller_id == listing.seller_id
            and auth.valid_on(listing.day)
        ):
            return auth
    return None


def _lapsed(right: Right, listing: Listing) -> Authorization | None:
    for auth in right.authorized:
        if auth.source == listing.source and auth.seller_id == listing.seller_id:
            return auth
    return None


def _impersonated(right: Right, listing: Listing) -> Authorization | None:
    name = normalize_plain(listing.seller_name)
    if not name:
        return None
    for auth in right.authorized:
        if (
            auth.source == listing.source
            and auth.seller_id != listing.seller_id
            and normalize_plain(auth.seller_name) == name
        ):
            return auth
    return None


def _per_label(right: Right) -> str:
    floor = right.price_floor
    assert floor is not None
    return f"{floor.amount:g}{floor.unit}"


def assess(
    listing: Listing,
    right: Right,
    match: RightMatch,
    *,
    prior_lead_days: int = 0,
    images: Iterable[ImageHit] = (),
) -> Assessment:
    """Apply rules 2 and 3 to a listing that refers to `right`."""
    refs = sorted(match.references, key=lambda r: -r.score)
    reasons = [r.describe() for r in refs]
    images = list(images)
    auth = authorization_for(right, listing)
    if auth is not None:
        reasons.append(
            f"已授权 authorized seller {listing.seller_id}"
            + (f" (licence {auth.licence_no}, valid until {auth.valid_until})"
               if auth.licence_no else "")
        )
        return Assessment(right.id, False, None, 0.0, reasons, auth)

    lapsed = _lapsed(right, listing)
    if lapsed is not None:
        reasons.append(
            f"许可已过期 licence {lapsed.licence_no or '?'} of seller {listing.seller_id} "
            f"not valid on {listing.day} (valid {lapsed.valid_from or '…'} to "
            f"{lapsed.valid_until or '…'})"
        )
    else:
        reasons.append(f"未授权 seller {listing.seller_id} is not authorized for {right.name}")
    copied = _impersonated(right, listing)
    if copied is not None:
        reasons.append(
            f"冒用授权店铺名 impersonation: shop name “{listing.seller_name}” belongs to "
            f"authorized seller {copied.seller_id}"
        )

    urgent: list[str] = []
    relation, place = _area(right.protected_area).relation(listing.ship_from)
    if relation == OUTSIDE:
        urgent.append(
            f"发货地在保护区外 ships from outside the protected area: “{listing.ship_from}”"
        )
    disguised = [r for r in refs if r.disguised]
    if disguised:
        kinds = sorted({r.form for r in disguised if r.form != "split" and not r.evoking})
        evoking = sorted({r.evoking for r in disguised if r.evoking})
        if kinds:
            urgent.append(f"名称伪装 disguised name ({', '.join(kinds)}) shows intent")
        if evoking:
            urgent.append(f"关联用语显示故意 evoking word {'/'.join(evoking)} shows intent")
    if right.price_floor is not None:
        floor = right.price_floor
        per = unit_price(listing.price, listing.quantity, floor.amount, floor.unit)
        if per is not None and per < floor.cny:
            urgent.append(
                f"单价低于底价 unit price {per:.1f} CNY/{_per_label(right)} "
                f"below floor {floor.cny:g}"
            )
    if prior_lead_days >= REPEAT_DAYS:
        urgent.append(f"重复侵权 repeat: seller had leads on {prior_lead_days} earlier days")
    for hit in images:
        if hit.kind == "special_mark":
            urgent.append(f"图片含专用标志 special mark in image: {hit.detail}")
        elif hit.kind == "copied_photo":
            urgent.append(f"盗用授权图片 copied authorized photo: {hit.detail}")

    if urgent:
        priority = "high"
    elif relation == INSIDE:
        priority = "low"
        reasons.append(f"发货地在保护区内 ships from inside the area: “{listing.ship_from}”")
    else:
        priority = "medium"
        if place is None:
            reasons.append("发货地不明 ship-from unknown")
    reasons.extend(urgent)
    strength = refs[0].score if refs else 0.0
    score = min(100.0, 60.0 * strength + 10.0 * len(urgent) + (10.0 if copied else 0.0))
    return Assessment(right.id, True, priority, round(score, 1), reasons)


def priority_rank(priority: str | None) -> int:
    """low=0, medium=1, high=2 (for filters and ordering); unknown is -1."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else -1


def assess_all(
    listing: Listing,
    rights: dict[str, Right],
    matches: dict[str, RightMatch],
    prior_lead_days: int = 0,
    images: dict[str, list[ImageHit]] | None = None,
) -> list[Assessment]:
    """Assess every right a listing refers to."""
    images = images or {}
    return [
        assess(listing, rights[rid], m, prior_lead_days=prior_lead_days,
               images=images.get(rid, ()))
        for rid, m in matches.items()
        if m.refers and rid in rights
    ]

