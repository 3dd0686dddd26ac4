"""`render: browser`: what scrapy-playwright needs to render a source's pages in Chromium.

Playwright cannot download its own browsers here and has no environment
variable for a browser path (DESIGN.md, "Known pitfalls"), so the crawl
launches Debian's Chromium (`/usr/bin/chromium`, or `$MONITOR_CHROMIUM`)
through `executable_path`. Only a browser source gets the Playwright download
handler (`playwright_settings`); an HTTP source keeps Scrapy's own handler and
its speed.

A browser page is handled in three steps, all inside the one page load that
scrapy-playwright makes per request:

1. `watch_navigation` (the page-init callback) remembers the main frame's
   navigation response, so the bytes the server actually sent can go to the
   WARC file, not just the DOM the scripts built from them;
2. `capture_page` (a page method) waits for the listing to appear (a
   selector, never a fixed sleep), then takes a full-page PNG screenshot;
3. scrapy-playwright serializes the rendered DOM (`page.content()`) as the
   response body the spider parses, and the evidence middleware keeps it.

robots.txt governs the pages the crawler chooses to open (search and listing
pages are Scrapy requests and pass RobotsTxtMiddleware); what such a page then
loads itself (its scripts, API calls, images) is the browser's, as for any
visitor, except that requests to cloud-metadata and link-local hosts are
aborted (`abort_forbidden`).

The request meta holds only picklable values (PageMethod objects, import
paths, module-level functions), so browser requests survive Scrapy's disk
queue when a crawl is paused and resumed (JOBDIR).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from monitor.crawl.sources import SourceConfig, is_xpath
from monitor.errors import UserError

if TYPE_CHECKING:
    from playwright.async_api import Page
    from playwright.async_api import Request as PlaywrightRequest
    from playwright.async_api import Response as PlaywrightResponse

logger = logging.getLogger(__name__)

CHROMIUM_ENV = "MONITOR_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (the crawl may run as root in a container), and no
# traffic of the browser's own (updates, sync, field trials) next to the crawl's.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)
PLAYWRIGHT_HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"

# Request.meta key: the result of `capture_page` lands on its PageMethod; the
# evidence middleware finds it by this method name.
CAPTURE_METHOD = "capture_page"
# How long a page may take to show its listing; a page that never does is
# kept as it is (its DOM and screenshot show what was there) and the spider
# drops it for want of a title.
WAIT_TIMEOUT_SETTING = "MONITOR_BROWSER_WAIT_MS"
DEFAULT_WAIT_MS = 15_000

# The one browser context of a crawl, looking like a desktop browser in China.
CONTEXT_KWARGS = {
    "viewport": {"width": 1280, "height": 900},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "service_workers": "block",
}

_PSEUDO = re.compile(r"::(?:text|attr\([^)]*\))")
_XPATH_TAIL = re.compile(r"/(?:text\(\)|@[\w:-]+|node\(\))\s*$")
# Resolves when every <img> in the page has loaded or failed: a screenshot taken
# as soon as the title shows may otherwise miss the listing's photos.
_IMAGES_SETTLED = """() => Promise.all(Array.from(document.images)
    .filter((img) => !img.complete)
    .map((img) => new Promise((done) => {
        img.addEventListener("load", done, {once: true});
        img.addEventListener("error", done, {once: true});
    })))"""
_NAVIGATIONS: weakref.WeakKeyDictionary[Page, PlaywrightResponse] = weakref.WeakKeyDictionary()


def chromium_path() -> str:
    """The Chromium the crawl launches: `$MONITOR_CHROMIUM`, else Debian's `/usr/bin/chromium`."""
    return os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM


def chromium_problem() -> str:
    """Why a browser source cannot be crawled here, or "" when it can."""
    path = chromium_path()
    resolved = path if os.sep in path else shutil.which(path)
    if not resolved or not Path(resolved).is_file():
        return (
            f"Chromium not found at {path} (install Debian's chromium package "
            f"or set {CHROMIUM_ENV} to a Chromium binary)"
        )
    if not os.access(resolved, os.X_OK):
        return f"Chromium at {resolved} is not executable"
    try:
        import playwright.async_api  # noqa: F401
        import scrapy_playwright.handler  # noqa: F401
    except ImportError as exc:
        return f"the Python package {exc.name or 'scrapy-playwright'} is not installed"
    return ""


def require_chromium(source: SourceConfig) -> str:
    """The Chromium path, or a one-line UserError naming the source and what is missing."""
    problem = chromium_problem()
    if problem:
        where = source.path or source.name
        raise UserError(f"{where}: render: browser needs Chromium: {problem}")
    return chromium_path()


def playwright_settings(source: SourceConfig, base: Any = None) -> dict[str, Any]:
    """Scrapy settings that route this source's requests through headless Chromium.

    Only requests whose meta says `playwright: True` use the browser; the
    handler passes the rest (robots.txt) to Scrapy's HTTP/1.1 handler.
    """
    timeout_s = float(base.getfloat("DOWNLOAD_TIMEOUT", 30)) if base is not None else 30.0
    return {
        "DOWNLOAD_HANDLERS": {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": require_chromium(source),
            "headless": True,
            "args": list(CHROMIUM_ARGS),
            "timeout": 60_000,
            # Ctrl-C and SIGTERM are Scrapy's to handle: it stops gracefully (and
            # saves its queue) while the pages in flight finish, then closes the
            # browser itself. Playwright's default would close it at once.
            "handle_sigint": False,
            "handle_sigterm": False,
            "handle_sighup": False,
        },
        # No startup contexts (PLAYWRIGHT_CONTEXTS): the http and https handlers
        # are two instances, and each would launch a browser at start. The
        # context is made on the first browser request instead (CONTEXT_KWARGS).
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_s * 1000,
        # A page's own subresources do not pass Scrapy's middlewares: refuse the
        # metadata and link-local hosts here too.
        "PLAYWRIGHT_ABORT_REQUEST": "monitor.crawl.browser.abort_forbidden",
    }


def isolate_driver_from_signals() -> None:
    """Start Playwright's Node.js driver in a session of its own (this process only).

    A stop signal sent to the crawl's whole process group (Ctrl-C in a
    terminal, systemd's default KillMode) would otherwise also reach the
    driver: Node dies of SIGTERM, the pages in flight fail, and
    scrapy-playwright can deadlock waiting for pages that never report
    closing. Isolated, the driver (and the browser, which Playwright already
    starts detached) keeps working while Scrapy stops gracefully, finishes
    the pages in flight and saves its queue; then Scrapy closes the browser.

    Playwright starts the driver with `PLAYWRIGHT_NODEJS_PATH` when set, so
    that points to a two-line wrapper that calls setsid() and execs the
    bundled Node.js. Without a bundled Node.js (or off POSIX) nothing changes.
    """
    if os.name != "posix" or os.environ.get("PLAYWRIGHT_NODEJS_PATH"):
        return
    try:
        from playwright._impl._driver import compute_driver_executable

        node, _ = compute_driver_executable()
    except Exception:  # no driver to isolate; Playwright will report its own error
        return
    folder = Path(tempfile.mkdtemp(prefix="monitor-node-"))
    wrapper = folder / "node"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "os.setsid()\n"
        f"os.execv({node!r}, [{node!r}, *sys.argv[1:]])\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o700)
    atexit.register(shutil.rmtree, folder, True)
    os.environ["PLAYWRIGHT_NODEJS_PATH"] = str(wrapper)


def abort_forbidden(request: PlaywrightRequest) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: True for a request to a cloud-metadata or link-local host."""
    from monitor.crawl.middlewares import is_forbidden_host

    host = urlsplit(request.url).hostname or ""
    if is_forbidden_host(host):
        logger.warning("Browser request to forbidden host %r aborted: %s", host, request.url)
        return True
    return False


def playwright_selector(selector: str) -> str:
    """A `fields`-style selector as an element selector Playwright can wait for.

    Parsel's `::text` / `::attr(x)` and XPath's trailing `/text()` or `/@x`
    select text, which Playwright cannot wait for: they are cut off, leaving
    the element. XPath gets Playwright's `xpath=` prefix.
    """
    selector = selector.strip()
    if not selector:
        return ""
    if is_xpath(selector):
        element = _XPATH_TAIL.sub("", selector)
        return f"xpath={element}" if element else ""
    return _PSEUDO.sub("", selector).strip().rstrip(",").strip()


def wait_selectors(source: SourceConfig) -> tuple[str, str]:
    """(detail, search) selectors a browser page waits for.

    Detail: `wait_for`, else the element of `fields.title`. Search:
    `wait_for_search`, else `listing_links`. Empty means "the load event".
    """
    detail = source.wait_for or source.fields.get("title", "")
    search = source.wait_for_search or source.listing_links
    return playwright_selector(detail), playwright_selector(search)


async def watch_navigation(page: Page, request: Any) -> None:
    """Page-init callback: remember the main frame's navigation response of this page."""

    def on_response(response: PlaywrightResponse) -> None:
        if response.request.is_navigation_request() and response.frame.parent_frame is None:
            _NAVIGATIONS[page] = response

    page.on("response", on_response)


async def capture_page(
    page: Page, wait_for: str, state: str, timeout_ms: float, screenshot: bool
) -> dict[str, Any]:
    """Page method: wait for `wait_for`, screenshot the full page, return the navigation.

    No waiting on an error status: a 503 page never shows the listing, and
    Scrapy's RetryMiddleware should see the status at once. A wait that times
    out is not an error either; `waited` says what happened ("found",
    "timeout", "skipped") and the page is kept as it was.
    """
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    navigation = _NAVIGATIONS.pop(page, None)
    status = navigation.status if navigation is not None else 200
    waited = "skipped"
    if wait_for and status < 400:
        try:
            await page.wait_for_selector(wait_for, state=state, timeout=timeout_ms)
            waited = "found"
        except PlaywrightTimeout:
            waited = "timeout"
    result: dict[str, Any] = {"waited": waited, "status": status, "screenshot": b""}
    if screenshot:
        # a photo that never loads is shown as the browser shows it
        with contextlib.suppress(TimeoutError, PlaywrightError):
            await asyncio.wait_for(page.evaluate(_IMAGES_SETTLED), timeout=timeout_ms / 1000)
        result["screenshot"] = await page.screenshot(full_page=True, type="png")
    if navigation is not None:
        result["status_text"] = navigation.status_text
        result["headers"] = [(h["name"], h["value"]) for h in await navigation.headers_array()]
        try:
            result["body"] = await navigation.body()
        except PlaywrightError:  # e.g. a body the browser did not keep; the DOM still is
            result["body"] = None
    return result


def page_meta(source: SourceConfig, kind: str, timeout_ms: float) -> dict[str, Any]:
    """scrapy-playwright's request meta for a search or detail page of a browser source."""
    from scrapy_playwright.page import PageMethod

    detail, search = wait_selectors(source)
    if kind == "detail":
        # visible: a title element that exists but is still empty is not the listing yet
        method = PageMethod(capture_page, detail, "visible", timeout_ms, True)
    else:
        # attached: an empty result list has no size, yet the search is done
        method = PageMethod(capture_page, search, "attached", timeout_ms, False)
    return {
        "playwright": True,
        "playwright_context_kwargs": CONTEXT_KWARGS,
        "playwright_page_init_callback": "monitor.crawl.browser.watch_navigation",
        "playwright_page_methods": [method],
    }


def capture_result(meta: dict[str, Any]) -> dict[str, Any] | None:
    """What `capture_page` returned for this request, if it ran."""
    for method in meta.get("playwright_page_methods") or ():
        if getattr(method, "method", None) is capture_page and isinstance(method.result, dict):
            return method.result
    return None
