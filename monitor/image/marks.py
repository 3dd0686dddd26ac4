"""Stand-in marks drawn by the project, one per right.

The official GI special mark (地理标志专用标志) and certification marks are
artworks the project may not copy. These stand-ins play their part in the demo
and the tests: each is drawn here from simple shapes, distinct enough from the
others (and from product photos) that perceptual hashes tell them apart, which
is all the matching needs. A GI holder replaces them with the real artwork in
`watchlists/images/`.

    python -m monitor.image.marks watchlists/images   # (re)draw the bundled files
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 512


def _ring(draw: ImageDraw.ImageDraw, colour: tuple[int, int, int]) -> None:
    draw.ellipse((16, 16, SIZE - 16, SIZE - 16), outline=colour, width=28)
    draw.ellipse((70, 70, SIZE - 70, SIZE - 70), outline=colour, width=8)


def _goji(draw: ImageDraw.ImageDraw) -> None:
    red = (196, 30, 45)
    _ring(draw, red)
    for i in range(7):  # a cluster of berries on a branch
        angle = math.pi * (0.15 + 0.1 * i)
        x = 256 + 120 * math.cos(angle) - 60
        y = 170 + 150 * math.sin(angle)
        draw.ellipse((x - 26, y - 40, x + 26, y + 40), fill=red)
    draw.line((150, 140, 380, 330), fill=(40, 110, 50), width=14)
    draw.polygon([(300, 170), (380, 120), (350, 210)], fill=(40, 110, 50))


def _tan_sheep(draw: ImageDraw.ImageDraw) -> None:
    ink = (30, 60, 130)
    draw.polygon([(256, 40), (460, 120), (420, 380), (256, 480), (92, 380), (52, 120)],
                 outline=ink, width=24)
    for turn in range(3):  # a curled horn as a spiral of arcs
        r = 110 - 32 * turn
        draw.arc((256 - r, 230 - r, 256 + r, 230 + r), start=90 * turn, end=90 * turn + 270,
                 fill=ink, width=16)
    draw.rectangle((150, 360, 362, 392), fill=ink)


def _wine(draw: ImageDraw.ImageDraw) -> None:
    wine = (110, 20, 60)
    hexagon = [(256 + 230 * math.cos(math.pi / 3 * k + math.pi / 6),
                256 + 230 * math.sin(math.pi / 3 * k + math.pi / 6)) for k in range(6)]
    draw.polygon(hexagon, outline=wine, width=22)
    draw.rectangle((226, 90, 286, 170), fill=wine)  # bottle neck
    draw.rounded_rectangle((176, 160, 336, 420), radius=50, fill=wine)
    draw.rectangle((196, 250, 316, 330), fill=(240, 225, 200))  # label
    for x in (120, 392):  # two mountain peaks behind
        draw.polygon([(x - 60, 430), (x, 300), (x + 60, 430)], outline=wine, width=10)


_DRAWERS = {
    "ningxia-goji": _goji,
    "yanchi-tan-sheep": _tan_sheep,
    "helan-mountain-east-wine": _wine,
}


MARKED_RIGHTS = tuple(_DRAWERS)  # the rights that have a stand-in mark


def draw_mark(right_id: str) -> Image.Image:
    """The project's stand-in mark for one of the bundled rights (RGB, 512×512)."""
    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    _DRAWERS[right_id](ImageDraw.Draw(image))
    return image


def mark_file(right_id: str) -> str:
    """File name of the stand-in under watchlists/images/."""
    return f"{right_id}-mark.png"


def main(argv: list[str] | None = None) -> int:
    target = Path((argv or sys.argv[1:] or ["watchlists/images"])[0])
    target.mkdir(parents=True, exist_ok=True)
    for right_id in _DRAWERS:
        draw_mark(right_id).save(target / mark_file(right_id), optimize=True)
        print(target / mark_file(right_id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
