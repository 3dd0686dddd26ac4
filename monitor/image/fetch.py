"""Fetching listing images safely: a bad image never stops a run.

Each URL is tried once. Before any request the host must be one the source
allows (its `allowed_domains` or `image_domains`), never link-local or a cloud
metadata address; the body is read up to a size cap; the bytes must decode as
a raster image (Pillow, whose decompression-bomb limit stays on, and which
rejects SVG, HTML served as image/jpeg and truncated files). Every refusal or
failure comes back with its reason, to be recorded.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image, UnidentifiedImageError

from monitor.crawl.middlewares import is_forbidden_host
from monitor.crawl.sources import SourceConfig

MAX_BYTES = 10 * 1024 * 1024
TIMEOUT = 15.0
RASTER_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP"})
USER_AGENT = "gi-monitor/0.1 (+GI enforcement monitoring; image fetcher)"


@dataclass(frozen=True)
class Fetched:
    """The outcome for one URL: status 'ok', 'error' or 'refused', and why."""

    url: str
    status: str
    reason: str = ""
    data: bytes = b""
    sha256: str = ""
    format: str = ""
    image: Image.Image | None = None


def allowed(url: str, source: SourceConfig | None) -> str:
    """'' if the URL may be fetched for this source, else the reason it may not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    if is_forbidden_host(parts.hostname):
        return f"host {parts.hostname} is link-local or a metadata address"
    if source is None:
        return "no source file: the allowed image hosts are unknown"
    if not source.image_host_allowed(url):
        return f"host {parts.hostname} is in neither allowed_domains nor image_domains"
    return ""


def decode(url: str, data: bytes) -> Fetched:
    """Check that bytes are a raster image Pillow can fully decode."""
    sha = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or ""
            if fmt not in RASTER_FORMATS:
                return Fetched(url, "error", f"not a raster image ({fmt or 'unknown'})")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Fetched(url, "error", "decompression bomb (too many pixels)")
    except UnidentifiedImageError:
        return Fetched(url, "error", "not an image")
    except OSError as exc:
        reason = "truncated image" if "truncated" in str(exc) else f"cannot decode ({exc})"
        return Fetched(url, "error", reason)
    except (ValueError, SyntaxError) as exc:
        return Fetched(url, "error", f"cannot decode ({exc})")
    return Fetched(url, "ok", "", data, sha, fmt, image)


def fetch(url: str, source: SourceConfig | None, max_bytes: int = MAX_BYTES) -> Fetched:
    """Fetch and decode one image URL, or say why not."""
    refusal = allowed(url, source)
    if refusal:
        return Fetched(url, "refused", refusal)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            final = response.geturl()
            refusal = allowed(final, source)
            if refusal:
                return Fetched(url, "refused", f"redirected: {refusal}")
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                return Fetched(url, "error", f"too large ({int(length)} bytes > {max_bytes})")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        return Fetched(url, "error", f"HTTP {exc.code}")
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Fetched(url, "error", f"network error ({reason})")
    if len(data) > max_bytes:
        return Fetched(url, "error", f"too large (over {max_bytes} bytes)")
    return decode(url, data)
