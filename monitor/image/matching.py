"""Which rights a listing's photos point to: the special mark, or a copied authorized photo.

A photo *shows the mark* of a right when, after trimming borders, its pHash is
close to a reference image of that right (mirror included) with dHash agreeing,
or when one of its crop-resistant segments is nearly identical to a segment of
the reference (the mark is a part of the photo). A photo *copies* an authorized
seller's photo when it is close to one of that seller's listing photos by the
same tests, with a stricter segment rule since product photos share plain
regions more often than marks do. Thresholds were set on the project's own
transform tests (tests/test_images.py), which also report the false-match rate
on unrelated photos.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.image.hashing import Hashes
from monitor.image.index import HashIndex

MARK_PHASH = 10
MARK_DHASH = 22
MIRROR_PHASH = 8
SEGMENT_DISTANCE = 8
MARK_SEGMENTS = 2
COPY_PHASH = 8
COPY_DHASH = 16
COPY_SEGMENTS = 3


@dataclass(frozen=True)
class Reference:
    """A reference picture: a right's mark, or an authorized seller's listing photo."""

    right_id: str
    label: str  # the file, or source/listing of the photo
    hashes: Hashes
    owner: str = ""  # "source|seller_id" for a seller's photo


@dataclass(frozen=True)
class ImageHit:
    """One finding: which image of the listing, what it matched, how closely."""

    right_id: str
    kind: str  # "special_mark" or "copied_photo"
    image: str  # the listing image's URL
    label: str
    how: str  # e.g. "pHash distance 2" or "3 segments"

    @property
    def detail(self) -> str:
        return f"{self.image} ≈ {self.label} ({self.how})"


class _Side:
    """Indexes over one set of references."""

    def __init__(self, refs: list[Reference]):
        self.refs = refs
        self.phash = HashIndex([r.hashes.phash for r in refs], list(range(len(refs))))
        seg_hashes, seg_labels = [], []
        for i, ref in enumerate(refs):
            for j, seg in enumerate(ref.hashes.segments):
                seg_hashes.append(seg)
                seg_labels.append((i, j))
        self.segments = HashIndex(seg_hashes, seg_labels)

    def find(self, h: Hashes, phash_max: int, dhash_max: int, segments_min: int
             ) -> dict[int, str]:
        """Reference index → how it matched, for every reference this image matches."""
        found: dict[int, str] = {}
        for i, dist in self.phash.within(h.phash, phash_max):
            if bin(h.dhash ^ self.refs[i].hashes.dhash).count("1") <= dhash_max:
                found.setdefault(i, f"pHash distance {dist}")
        for i, dist in self.phash.within(h.phash_mirror, min(phash_max, MIRROR_PHASH)):
            found.setdefault(i, f"mirrored, pHash distance {dist}")
        matched: dict[int, set[int]] = {}  # reference → its segments seen in the image
        for seg in h.segments:
            for (i, j), _ in self.segments.within(seg, SEGMENT_DISTANCE):
                matched.setdefault(i, set()).add(j)
        for i, segs in matched.items():
            n = len(segs)
            if n >= segments_min:
                found.setdefault(i, f"{n} matching segment{'s' if n > 1 else ''}")
        return found


class ImageMatcher:
    """Matches listing photos against marks and authorized sellers' photos."""

    def __init__(self, marks: Iterable[Reference], photos: Iterable[Reference] = ()):
        self.marks = _Side(list(marks))
        self.photos = _Side(list(photos))

    def match(self, images: Iterable[tuple[str, Hashes]], seller: str) -> list[ImageHit]:
        """Hits for a listing's (url, hashes) images; `seller` is 'source|seller_id'."""
        hits: dict[tuple[str, str], ImageHit] = {}
        for url, h in images:
            for i, how in self.marks.find(h, MARK_PHASH, MARK_DHASH, MARK_SEGMENTS).items():
                ref = self.marks.refs[i]
                hits.setdefault((ref.right_id, "special_mark"),
                                ImageHit(ref.right_id, "special_mark", url, ref.label, how))
            for i, how in self.photos.find(h, COPY_PHASH, COPY_DHASH, COPY_SEGMENTS).items():
                ref = self.photos.refs[i]
                if ref.owner == seller:
                    continue  # a seller may reuse their own photos
                hits.setdefault((ref.right_id, "copied_photo"),
                                ImageHit(ref.right_id, "copied_photo", url, ref.label, how))
        return list(hits.values())
