"""The content-addressed image store, `<data>/images/<sha256[:2]>/<sha256>.<ext>`.

Both the crawl (Scrapy's files pipeline) and the image stage keep bytes here,
so one piece of code decides where a content lives: a content already kept,
under whatever extension, is not written again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def path_for(root: Path, data: bytes, ext: str) -> Path:
    """Where these bytes are (if kept already) or will be kept."""
    digest = hashlib.sha256(data).hexdigest()
    folder = root / digest[:2]
    if folder.is_dir():
        for existing in folder.glob(f"{digest}.*"):
            return existing
    return folder / f"{digest}.{ext}"


def keep(root: Path, data: bytes, ext: str) -> Path:
    """Keep bytes once, written atomically; returns their path."""
    target = path_for(root, data, ext)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".img-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    return target
