"""Real HTTP servers on 127.0.0.1 for tests, a plain GET, and a WARC reader.

Each fixture marketplace in the tests differs only in what it answers; the
serving, the request log (path, User-Agent) and the hit counts live here, and
so does reading back the WARC evidence a crawl of them wrote.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator


class LoggingServer:
    """A threaded HTTP server on a free port of 127.0.0.1 (or another loopback address).

    Subclasses write `respond`.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.log: list[tuple[str, str]] = []  # (path with query, User-Agent)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep pytest output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with owner.lock:
                    owner.log.append((self.path, self.headers.get("User-Agent", "")))
                    owner.hits[self.path] += 1
                    hits = owner.hits[self.path]
                status, body, ctype = owner.respond(self.path, hits)
                data = body.encode("utf-8") if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> str:
        """Serve in a background thread; returns the base URL."""
        if not self.thread.is_alive():
            self.thread.start()
        return self.base

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def respond(self, path: str, hits: int) -> tuple[int, str | bytes, str]:
        """(status, body, content type) for a GET of `path`, seen `hits` times so far."""
        raise NotImplementedError


def fetch(url: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a GET, 4xx included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def read_warc(path: Path) -> list[dict[str, Any]]:
    """Every record of a WARC file: type, URI, date, our SHA-256 header, status, headers, body."""
    records = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            http = record.http_headers
            records.append(
                {
                    "type": record.rec_type,
                    "uri": record.rec_headers.get_header("WARC-Target-URI"),
                    "date": record.rec_headers.get_header("WARC-Date"),
                    "sha256": record.rec_headers.get_header("WARC-Monitor-SHA256"),
                    "status": http.get_statuscode() if http else None,
                    "headers": dict(http.headers) if http else {},
                    "body": record.raw_stream.read(),
                }
            )
    return records
