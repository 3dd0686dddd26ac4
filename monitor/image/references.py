"""The reference pictures a run matches listing photos against.

Marks come from the watchlists (`reference_images`, paths relative to the
watchlists folder) and are hashed once per file content. Authorized photos are
the stored photos of listings whose seller is authorized for a right on that
listing's day and whose text refers to that right: a copy of one of them by
another seller is a reason for urgency (rule 3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from pathlib import Path

from PIL import Image

from monitor.image.hashing import Hashes, compute
from monitor.image.matching import Reference
from monitor.scoring import authorization_for
from monitor.text.matcher import Matcher
from monitor.warehouse import Warehouse
from monitor.watchlist import Right


@lru_cache(maxsize=256)
def _hash_file(digest: str, path: str) -> Hashes:
    del digest  # part of the cache key: a changed file is hashed again
    with Image.open(path) as image:
        return compute(image)


def mark_references(rights: Iterable[Right]) -> list[Reference]:
    """Hashes of every right's reference images."""
    refs = []
    for right in rights:
        base = Path(right.path).parent
        for name in right.reference_images:
            path = base / name
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            refs.append(Reference(right.id, name, _hash_file(digest, str(path))))
    return refs


def authorized_photos(
    wh: Warehouse, rights: list[Right], matcher: Matcher, day: date
) -> list[Reference]:
    """Photos of authorized listings of each right, stored up to `day`."""
    sellers = sorted({f"{a.source}|{a.seller_id}" for r in rights for a in r.authorized})
    from monitor.listing import parse_listing

    refs = []
    for source, seller_id, listing_id, snap_day, title, description, url, _sha, ph, dh, pm, segs \
            in wh.seller_images(day, sellers):
        refers = matcher.referred(title or "", description or "")
        probe = parse_listing({"source": source, "listing_id": listing_id, "title": title,
                               "seller_id": seller_id,
                               "crawled_at": f"{snap_day.isoformat()}T12:00:00+08:00"})
        for right in rights:
            if right.id in refers and authorization_for(right, probe) is not None:
                hashes = Hashes(int(ph), int(dh), int(pm), tuple(int(s) for s in segs or ()))
                refs.append(Reference(right.id, f"{source}/{listing_id} {url}", hashes,
                                      owner=f"{source}|{seller_id}"))
    return refs
