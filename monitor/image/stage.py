"""The image stage (`monitor images`): fetch what is new, keep it by content, hash it.

Listings from a crawl and from a feed go through the same store: each URL is
tried once (`image_fetches`), each distinct content is kept once under
`<data>/images/<sha256[:2]>/<sha256>.<ext>` and hashed once (`images`). The
crop-resistant hash is the slow part (about a quarter of a second an image), so
hashing runs in a process pool over the machine's cores.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from monitor.config import now
from monitor.crawl.sources import SourceConfig, bundled_sources, load_source
from monitor.image.fetch import Fetched, decode, fetch
from monitor.image.hashing import Hashes, compute
from monitor.image.store import keep
from monitor.warehouse import Warehouse

FETCH_THREADS = 8
_EXT = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp"}


@dataclass
class ImageStageResult:
    """What the image stage did."""

    tried: int = 0
    from_crawl: int = 0  # outcomes taken from the crawl's image manifests
    fetched: int = 0
    new_images: int = 0
    problems: Counter[str] = field(default_factory=Counter)  # "status: reason" → count


def source_configs(names: set[str], sources_dir: Path | None) -> dict[str, SourceConfig | None]:
    """Source files by name: the project's bundled ones, then `<sources_dir>/<name>.yaml`."""
    bundled = set(bundled_sources())
    out: dict[str, SourceConfig | None] = {}
    for name in names:
        path = sources_dir / f"{name}.yaml" if sources_dir else None
        if path is not None and path.is_file():
            out[name] = load_source(path)
        elif name in bundled:
            out[name] = load_source(name)
        else:
            out[name] = None
    return out


def _hash(data: bytes) -> Hashes:
    fetched = decode("", data)
    assert fetched.image is not None
    return compute(fetched.image)


def _store(root: Path, item: Fetched) -> Path:
    return keep(root, item.data, _EXT.get(item.format, "bin"))


MANIFEST = "images.jsonl"


def crawl_manifests(data_root: Path, day: date | None) -> dict[str, dict[str, str]]:
    """URL → what the crawl's image pipeline did with it, from the raw zone's manifests.

    During a crawl Scrapy's files pipeline fetches listing images into the same
    content-addressed store and writes `<data>/raw/<source>/<day>/images.jsonl`;
    those URLs are not fetched again here, only checked and hashed.
    """
    pattern = f"raw/*/{day.isoformat()}/{MANIFEST}" if day else f"raw/*/*/{MANIFEST}"
    out: dict[str, dict[str, str]] = {}
    for path in sorted(data_root.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line of an interrupted crawl: fetch those URLs here
            if isinstance(rec, dict) and isinstance(rec.get("url"), str):
                out.setdefault(rec["url"], rec)
    return out


def from_manifest(rec: dict[str, str]) -> Fetched:
    """A crawl-time outcome as a fetch result; stored bytes are validated like fetched ones."""
    url, status = rec["url"], rec.get("status", "error")
    if status != "ok":
        return Fetched(url, status, rec.get("reason", "") or "failed during the crawl")
    try:
        data = Path(rec.get("path", "")).read_bytes()
    except OSError:
        return Fetched(url, "error", "stored by the crawl but missing from the image store")
    return decode(url, data)


def fetch_images(
    wh: Warehouse,
    data_root: Path,
    day: date | None = None,
    sources_dir: Path | None = None,
    workers: int | None = None,
) -> ImageStageResult:
    """Fetch, store and hash every listing image (of `day`, or all days) not tried before."""
    todo = wh.image_urls_to_fetch(day)
    result = ImageStageResult(tried=len(todo))
    if not todo:
        return result
    crawled = crawl_manifests(data_root, day)
    from_crawl = [from_manifest(crawled[url]) for _, url in todo if url in crawled]
    rest = [(s, url) for s, url in todo if url not in crawled]
    configs = source_configs({s for s, _ in rest}, sources_dir)
    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        fetched = from_crawl + list(pool.map(lambda su: fetch(su[1], configs[su[0]]), rest))
    result.from_crawl = len(from_crawl)
    good = [f for f in fetched if f.status == "ok"]
    fresh: dict[str, Fetched] = {}
    for item in good:
        if item.sha256 not in fresh and not wh.image_known(item.sha256):
            fresh[item.sha256] = item
    store = data_root / "images"
    paths = {sha: _store(store, item) for sha, item in fresh.items()}
    items = list(fresh.values())
    if len(items) > 1:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            hashes = list(pool.map(_hash, [i.data for i in items], chunksize=4))
    else:
        hashes = [_hash(i.data) for i in items]
    stamp = now()
    wh.record_images(
        fetches=[(f.url, f.status, f.reason, f.sha256 or None, stamp) for f in fetched],
        images=[
            (i.sha256, str(paths[i.sha256]), i.format, i.image.width if i.image else 0,
             i.image.height if i.image else 0, len(i.data), h, stamp)
            for i, h in zip(items, hashes, strict=True)
        ],
    )
    result.fetched = len(good)
    result.new_images = len(items)
    for f in fetched:
        if f.status != "ok":
            result.problems[f"{f.status}: {f.reason}"] += 1
    return result
