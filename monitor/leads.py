"""The match stage: stored snapshots + watchlists → leads.

A day is matched as a whole and its verdict replaces the previous verdict for
that day, so re-running a day (after a watchlist edit, say) is always safe and
never duplicates a lead. Days are matched in order because the repeat rule
needs the leads of earlier days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from monitor.image.matching import ImageHit, ImageMatcher
from monitor.image.references import authorized_photos, mark_references
from monitor.places import jurisdiction
from monitor.scoring import assess_all
from monitor.text.matcher import Matcher, Reference, RightMatch, static_data_frozen
from monitor.warehouse import Warehouse
from monitor.watchlist import Right, load_rights


@dataclass
class MatchSummary:
    """What matching found, per day and in total."""

    days: list[date] = field(default_factory=list)
    listings: int = 0
    referring: int = 0
    leads: int = 0
    by_right_priority: dict[tuple[str, str], int] = field(default_factory=dict)


def match_days(
    wh: Warehouse, rights: list[Right], days: Iterable[date] | None = None
) -> MatchSummary:
    """(Re)match the given days (all stored days when None) and update the leads."""
    wanted = sorted(set(days)) if days is not None else wh.days()
    matcher = Matcher(rights)
    with static_data_frozen():
        return _match_days(wh, rights, matcher, wanted)


def _match_days(
    wh: Warehouse, rights: list[Right], matcher: Matcher, wanted: list[date]
) -> MatchSummary:
    by_id = {r.id: r for r in rights}
    history = wh.seller_lead_days(skip_days=wanted)
    summary = MatchSummary(days=wanted)
    marks = mark_references(rights)
    for day in wanted:
        images = ImageMatcher(marks, authorized_photos(wh, rights, matcher, day))
        photos = wh.listing_image_hashes(day)
        rows = []
        sellers_today: set[tuple[str, str]] = set()
        for listing in wh.snapshots_of_day(day):
            summary.listings += 1
            matches = matcher.referred(listing.title, listing.description)
            key = (listing.source, listing.seller_id)
            hits = images.match(photos.get((listing.source, listing.listing_id), ()),
                                f"{listing.source}|{listing.seller_id}")
            by_right = _image_evidence(hits, matches)
            if not matches:
                continue
            summary.referring += 1
            prior = sum(1 for d in history.get(key, ()) if d < day)
            for verdict in assess_all(listing, by_id, matches, prior_lead_days=prior,
                                      images=by_right):
                if not verdict.lead:
                    continue
                sellers_today.add(key)
                pr = (verdict.right_id, verdict.priority or "")
                summary.by_right_priority[pr] = summary.by_right_priority.get(pr, 0) + 1
                summary.leads += 1
                rows.append(
                    {
                        "source": listing.source,
                        "listing_id": listing.listing_id,
                        "right_id": verdict.right_id,
                        "seller_id": listing.seller_id,
                        "priority": verdict.priority,
                        "score": verdict.score,
                        "reasons": verdict.reasons_text,
                        "jurisdiction": jurisdiction(listing.ship_from),
                    }
                )
        wh.replace_lead_days(day, rows)
        for key in sellers_today:
            history.setdefault(key, set()).add(day)
    return summary


def _image_evidence(
    hits: list[ImageHit], matches: dict[str, RightMatch]
) -> dict[str, list[ImageHit]]:
    """Group image hits by right; a special mark makes the listing refer to its right."""
    by_right: dict[str, list[ImageHit]] = {}
    for hit in hits:
        by_right.setdefault(hit.right_id, []).append(hit)
        if hit.kind == "special_mark":
            match = matches.setdefault(hit.right_id, RightMatch(hit.right_id))
            match.references.append(
                Reference(hit.right_id, "special_mark", "image", 0, 0, hit.image, 0.9,
                          detail=f"≈ {hit.label}, {hit.how}")
            )
    return by_right


def match_stage(wh: Warehouse, watchlists: Path, day: date | None = None) -> MatchSummary:
    """The `monitor match` stage: watchlists are re-read on every run."""
    rights = load_rights(watchlists)
    return match_days(wh, rights, [day] if day else None)
