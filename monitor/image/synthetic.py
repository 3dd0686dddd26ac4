"""Synthetic pictures for image tests and benchmarks, all drawn here: transforms of the
marks as sellers make them, product photos, and unrelated photos."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from monitor.image.hashing import compute
from monitor.image.marks import MARKED_RIGHTS, draw_mark, mark_file
from monitor.image.matching import Reference


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue()))


def product_photo(seed: int, size: tuple[int, int] = (900, 700)) -> Image.Image:
    """A busy made-up product photo: a background and coloured blobs."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(140, 256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(20, 130)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    for _ in range(4):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.rectangle((x, y, x + rng.randrange(40, 200), y + rng.randrange(20, 90)),
                       fill=tuple(rng.randrange(256) for _ in range(3)))
    return image


def goji_on_a_plate(seed: int) -> Image.Image:
    """Red berries on a white plate: round, red, and not a mark."""
    rng = random.Random(seed)
    image = Image.new("RGB", (800, 800), (200, 180, 150))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 60, 740, 740), fill=(250, 250, 250), outline=(220, 220, 220), width=12)
    for _ in range(60):
        x, y = rng.randrange(180, 620), rng.randrange(180, 620)
        draw.ellipse((x - 14, y - 24, x + 14, y + 24), fill=(190 + rng.randrange(50), 30, 40))
    return image


def other_wine_bottle(seed: int) -> Image.Image:
    """A bottle of some other wine on a table."""
    rng = random.Random(seed)
    image = Image.new("RGB", (600, 900), (235, 230, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 700, 600, 900), fill=(120, 80, 50))
    colour = (60 + rng.randrange(60), 10, 40)
    draw.rectangle((270, 120, 330, 260), fill=colour)
    draw.rounded_rectangle((200, 250, 400, 760), radius=60, fill=colour)
    draw.rectangle((220, 420, 380, 560), fill=(250, 245, 230))
    return image


def embed(mark: Image.Image, seed: int, scale: float = 0.4) -> Image.Image:
    """The mark printed on a corner of a larger product photo."""
    photo = product_photo(seed)
    side = int(photo.width * scale)
    photo.paste(mark.resize((side, side)), (photo.width - side - 30, 30))
    return photo


def watermark(image: Image.Image) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    for row in range(3):
        draw.text((20, h * (0.3 + 0.25 * row)), "SHOP 8823  authentic  SHOP 8823  " * 2,
                  fill=(90, 90, 90))
    return out


TRANSFORMS = {
    "resize_small": lambda im, s: im.resize((im.width // 3, im.height // 3)),
    "jpeg_q10": lambda im, s: jpeg(im, 10),
    "crop_part_of_photo": lambda im, s: embed(im, s),
    "border": lambda im, s: ImageOps.expand(im, 60, fill=(20, 120, 200)),
    "watermark_text": lambda im, s: watermark(im),
    "colour_shift": lambda im, s: ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(0.85))
    .enhance(1.4),
    "mirror": lambda im, s: ImageOps.mirror(im),
    "resize_jpeg_border": lambda im, s: ImageOps.expand(jpeg(im.resize((300, 300)), 30), 25,
                                                        fill=(255, 255, 255)),
}

COPY_TRANSFORMS = {
    "resize": lambda im, s: im.resize((im.width // 2, im.height // 2)),
    "jpeg_q20": lambda im, s: jpeg(im, 20),
    "border": lambda im, s: ImageOps.expand(im, 40, fill=(255, 255, 255)),
    "watermark_text": lambda im, s: watermark(im),
    "colour_shift": lambda im, s: ImageEnhance.Brightness(im).enhance(1.15),
    "crop_90": lambda im, s: im.crop((30, 25, im.width - 30, im.height - 25)),
}


def mark_references() -> list[Reference]:
    """The stand-in marks of every bundled right, hashed, as image references."""
    return [Reference(r, mark_file(r), compute(draw_mark(r))) for r in MARKED_RIGHTS]
