"""Perceptual hashes of one image, robust to what sellers do to a photo.

- Uniform borders are trimmed first (a frame or letterbox would shift pHash).
- pHash (DCT) separates unrelated photos best and survives resizing and
  re-encoding; dHash (gradients) is a second opinion that reacts differently
  to watermarks; the pHash of the mirror image catches flipped copies.
- A crop-resistant hash (imagehash's segment hashes) finds a mark that is only
  a part of a larger photo, at a cost, so it runs on a reduced segmentation
  image.

All hashes are 64-bit integers so that nearest-hash search is a vectorized
XOR and popcount (see `index.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageChops, ImageOps

SEGMENTATION_SIZE = 300  # imagehash's default; smaller sizes lose a mark that is a part
MIN_SEGMENT_SIZE = 500
TRIM_TOLERANCE = 24
MIN_SEGMENT_BITS = 8  # a segment hash with fewer set (or unset) bits describes a flat patch


def to_int(h: imagehash.ImageHash) -> int:
    """A 64-bit ImageHash as an unsigned integer."""
    bits = np.asarray(h.hash, dtype=np.uint8).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def _trim_once(rgb: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgb.size, rgb.getpixel((0, 0)))
    diff = ImageChops.difference(rgb, background).convert("L")
    box = diff.point(lambda v: 255 if v > TRIM_TOLERANCE else 0).getbbox()
    if not box:
        return rgb
    width, height = rgb.size
    if (box[2] - box[0]) * (box[3] - box[1]) < 0.05 * width * height:
        return rgb  # almost all "border": keep the image as it is
    return rgb.crop(box)


def trim_border(image: Image.Image) -> Image.Image:
    """Cut away uniform frames (the colour of the top-left pixel), a frame inside a frame too.

    Two passes: a seller's coloured border around a mark on white leaves the
    white margin after the first, which the second removes, so the copy and
    the reference end up cropped alike.
    """
    rgb = image.convert("RGB")
    for _ in range(2):
        trimmed = _trim_once(rgb)
        if trimmed.size == rgb.size:
            break
        rgb = trimmed
    return rgb


def _informative(value: int) -> bool:
    """False for the hash of a flat region (a label, a sky): it would match any flat region."""
    return MIN_SEGMENT_BITS <= value.bit_count() <= 64 - MIN_SEGMENT_BITS


@dataclass(frozen=True)
class Hashes:
    """Perceptual hashes of one image."""

    phash: int
    dhash: int
    phash_mirror: int
    segments: tuple[int, ...] = ()


def compute(image: Image.Image, crop_resistant: bool = True) -> Hashes:
    """All hashes of an image (after trimming uniform borders)."""
    image = trim_border(image)
    segments: tuple[int, ...] = ()
    if crop_resistant:
        multi = imagehash.crop_resistant_hash(
            image,
            segmentation_image_size=SEGMENTATION_SIZE,
            min_segment_size=MIN_SEGMENT_SIZE,
        )
        segments = tuple(
            value for value in (to_int(h) for h in multi.segment_hashes) if _informative(value)
        )
    return Hashes(
        phash=to_int(imagehash.phash(image)),
        dhash=to_int(imagehash.dhash(image)),
        phash_mirror=to_int(imagehash.phash(ImageOps.mirror(image))),
        segments=segments,
    )
