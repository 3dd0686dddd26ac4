"""Image matching: the stand-in marks and copied photos through what sellers do to them."""

from __future__ import annotations

import pytest

from monitor.image.hashing import compute
from monitor.image.marks import MARKED_RIGHTS, draw_mark
from monitor.image.matching import ImageMatcher, Reference
from monitor.image.synthetic import (
    COPY_TRANSFORMS,
    TRANSFORMS,
    goji_on_a_plate,
    mark_references,
    other_wine_bottle,
    product_photo,
)

RIGHTS = MARKED_RIGHTS


@pytest.fixture(scope="module")
def matcher() -> ImageMatcher:
    marks = mark_references()
    photos = [Reference("ningxia-goji", f"auth-{i}", compute(product_photo(500 + i)),
                        owner="demo-mall|shop-1") for i in range(3)]
    return ImageMatcher(marks, photos)


def kinds(matcher: ImageMatcher, image, seller: str = "demo-mall|shop-x") -> set[tuple[str, str]]:
    return {(h.right_id, h.kind) for h in matcher.match([("u", compute(image))], seller)}


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_marks_survive_what_sellers_do(matcher: ImageMatcher, transform: str) -> None:
    for seed, right in enumerate(RIGHTS):
        image = TRANSFORMS[transform](draw_mark(right), seed)
        found = {r for r, k in kinds(matcher, image) if k == "special_mark"}
        assert found == {right}, f"{transform} of {right}: {found}"


@pytest.mark.parametrize("transform", sorted(COPY_TRANSFORMS))
def test_copied_authorized_photo(matcher: ImageMatcher, transform: str) -> None:
    for i in range(3):
        image = COPY_TRANSFORMS[transform](product_photo(500 + i), i)
        assert ("ningxia-goji", "copied_photo") in kinds(matcher, image), transform
        # The authorized seller's own reuse of a photo is no copy.
        assert ("ningxia-goji", "copied_photo") not in kinds(matcher, image, "demo-mall|shop-1")


def test_unrelated_photos_do_not_match(matcher: ImageMatcher) -> None:
    unrelated = (
        [goji_on_a_plate(s) for s in range(8)]
        + [other_wine_bottle(s) for s in range(8)]
        + [product_photo(1000 + s) for s in range(24)]
    )
    false = [i for i, image in enumerate(unrelated) if kinds(matcher, image)]
    print(f"\nfalse matches on unrelated photos: {len(false)}/{len(unrelated)}")
    assert false == []
