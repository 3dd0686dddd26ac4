"""Source files: what a marketplace looks like to the generic spider.

A new marketplace is a YAML file, not code (DESIGN.md, "A source config"). The
file is checked here, once, before any request is sent, so that a typo shows up
as one line naming the file and the line ("PATH:LINE: ...") instead of as an
empty crawl. A feed's source file has only `name`, `allowed_domains` and
`image_domains` and is valid too: it tells the image fetcher which hosts it may
contact.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml
from cssselect import SelectorError
from lxml import etree
from parsel.csstranslator import HTMLTranslator

from monitor.errors import UserError
from monitor.listing import FIELDS

SOURCES_DIR = Path(__file__).with_name("sources")

KEYS = (
    "name",
    "allowed_domains",
    "image_domains",
    "search_url",
    "listing_links",
    "next_page",
    "render",
    "wait_for",
    "wait_for_search",
    "fields",
)
RENDER_MODES = ("http", "browser")

# Fields a selector may fill. `source` is the file's name and `crawled_at` the
# crawl's clock: neither is read from a page.
SELECTABLE_FIELDS = tuple(f for f in FIELDS if f not in ("source", "crawled_at"))

# A name becomes a directory of the raw zone (raw/<name>/<day>/), so it must not
# be able to climb out of it.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_XPATH_NAMESPACES = {
    "re": "http://exslt.org/regular-expressions",
    "set": "http://exslt.org/sets",
}


@dataclass(frozen=True)
class SourceConfig:
    """One marketplace (or feed) as its source file describes it.

    `search_url` and `listing_links` are empty for a feed's source file; `path`
    is where the file was read from, so later errors can name it.
    """

    name: str
    allowed_domains: tuple[str, ...]
    image_domains: tuple[str, ...] = ()
    search_url: str = ""
    listing_links: str = ""
    next_page: str = ""
    render: str = "http"
    fields: dict[str, str] = field(default_factory=dict)
    path: str = ""
    # `render: browser` only: what a rendered page shows once its content is
    # there (CSS or XPath). Defaults: the `fields.title` element on a listing
    # page, `listing_links` on a search page (see monitor.crawl.browser).
    wait_for: str = ""
    wait_for_search: str = ""

    @property
    def crawlable(self) -> bool:
        """True when the file says how to search the marketplace (not just a feed)."""
        return bool(self.search_url and self.listing_links)

    def search_request_url(self, term: str) -> str:
        """The search URL for one term, URL-quoted (str.format would choke on other braces)."""
        return self.search_url.replace("{query}", quote(term, safe=""))

    def image_host_allowed(self, url: str) -> bool:
        """Whether an image URL's host is one this source allows (itself or a subdomain).

        DESIGN.md: an image host listed in neither `allowed_domains` nor
        `image_domains` is never fetched.
        """
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        return bool(host) and any(
            _host_matches(host, d) for d in (*self.allowed_domains, *self.image_domains)
        )


def _host_matches(host: str, domain: str) -> bool:
    domain = domain.lower()
    return host == domain or host.endswith("." + domain)


def bundled_sources() -> list[str]:
    """Names of the source files shipped with the package (monitor/crawl/sources/*.yaml)."""
    if not SOURCES_DIR.is_dir():
        return []
    return sorted(p.stem for p in SOURCES_DIR.glob("*.yaml"))


def resolve_source_path(path_or_name: str | Path) -> Path:
    """A bundled name resolves to monitor/crawl/sources/<name>.yaml; anything else is a path."""
    if isinstance(path_or_name, Path):
        return path_or_name
    text = str(path_or_name)
    looks_like_path = "/" in text or "\\" in text or text.endswith((".yaml", ".yml"))
    if not looks_like_path:
        bundled = SOURCES_DIR / f"{text}.yaml"
        if bundled.is_file():
            return bundled
        if not Path(text).is_file():
            names = ", ".join(bundled_sources()) or "none"
            raise UserError(
                f"{text}: no bundled source of that name and no such file "
                f"(bundled sources: {names})"
            )
    return Path(text)


def load_source(path_or_name: str | Path) -> SourceConfig:
    """Read and check a source file; every problem is a one-line UserError naming where."""
    path = resolve_source_path(path_or_name)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{where}: no such source file") from None
    except UnicodeDecodeError:
        raise UserError(f"{where}: not a UTF-8 text file") from None
    except OSError as exc:
        raise UserError(f"{where}: cannot read ({exc.strerror})") from None
    return parse_source(text, where)


def parse_source(text: str, where: str) -> SourceConfig:
    """Check the YAML text of a source file; `where` names it in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{where}:{line}: YAML syntax error: {problem}") from None
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        line = root.start_mark.line + 1 if root is not None else 1
        raise UserError(f"{where}:{line}: a source file must be a mapping of keys to values")

    lines = _key_lines(root, where)
    return _SourceChecker(where, data, lines).check()


def _key_lines(node: yaml.MappingNode, where: str) -> dict[str, int]:
    """1-based line of every top-level key and of every key under `fields` ("fields.x")."""
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if key in lines:
            raise UserError(f"{where}:{line}: duplicate key '{key}'")
        lines[key] = line
        if key == "fields" and isinstance(value_node, yaml.MappingNode):
            for sub_key, _ in value_node.value:
                sub = f"fields.{sub_key.value}"
                sub_line = sub_key.start_mark.line + 1
                if sub in lines:
                    raise UserError(f"{where}:{sub_line}: duplicate field '{sub_key.value}'")
                lines[sub] = sub_line
    return lines


class _SourceChecker:
    """Turns the decoded mapping into a SourceConfig, or a UserError naming the line."""

    def __init__(self, where: str, data: dict[Any, Any], lines: dict[str, int]) -> None:
        self.where = where
        self.data = data
        self.lines = lines

    def fail(self, key: str, message: str) -> UserError:
        line = self.lines.get(key)
        if line is None:
            return UserError(f"{self.where}: {message}")
        return UserError(f"{self.where}:{line}: {message}")

    def check(self) -> SourceConfig:
        for key in self.data:
            if key not in KEYS:
                hint = difflib.get_close_matches(str(key), KEYS, n=1)
                also = f"; did you mean '{hint[0]}'?" if hint else f" (known: {', '.join(KEYS)})"
                raise self.fail(str(key), f"unknown key '{key}'{also}")

        name = self.text("name", required=True)
        if not _NAME_RE.match(name):
            raise self.fail(
                "name", f"name '{name}' may hold only letters, digits, '.', '_' and '-'"
            )
        allowed = self.domains("allowed_domains", required=True)
        images = self.domains("image_domains", required=False)

        search_url = self.text("search_url")
        listing_links = self.text("listing_links")
        if search_url:
            self.check_search_url(search_url, allowed)
            if not listing_links:
                raise UserError(
                    f"{self.where}: field 'listing_links' is required when search_url is set"
                )
        elif listing_links:
            raise self.fail("listing_links", "listing_links needs a search_url")
        if listing_links:
            self.check_selector("listing_links", listing_links)
        next_page = self.text("next_page")
        if next_page:
            self.check_selector("next_page", next_page)

        render = self.text("render") or "http"
        if render not in RENDER_MODES:
            raise self.fail("render", f"render must be 'http' or 'browser', got '{render}'")
        waits = {}
        for key in ("wait_for", "wait_for_search"):
            waits[key] = self.text(key)
            if waits[key]:
                if render != "browser":
                    raise self.fail(key, f"{key} applies to render: browser only")
                self.check_selector(key, waits[key])

        return SourceConfig(
            name=name,
            allowed_domains=allowed,
            image_domains=images,
            search_url=search_url,
            listing_links=listing_links,
            next_page=next_page,
            render=render,
            fields=self.fields(),
            path=self.where,
            wait_for=waits["wait_for"],
            wait_for_search=waits["wait_for_search"],
        )

    def text(self, key: str, required: bool = False) -> str:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise self.fail(key, f"field '{key}' is required")
            return ""
        if not isinstance(value, str):
            raise self.fail(key, f"field '{key}' must be a string")
        return value.strip()

    def domains(self, key: str, required: bool) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None or value == [] or value == "":
            if required:
                raise self.fail(key, f"field '{key}' is required (a list of host names)")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, f"field '{key}' must be a list of host names")
        hosts = []
        for entry in value:
            if not isinstance(entry, (str, int, float)) or isinstance(entry, bool):
                raise self.fail(key, f"field '{key}': {entry!r} is not a host name")
            host = str(entry).strip().lower().rstrip(".")
            if not host or "/" in host or ":" in host or " " in host:
                raise self.fail(
                    key, f"field '{key}': '{entry}' must be a bare host name (no scheme or port)"
                )
            hosts.append(host)
        return tuple(hosts)

    def check_search_url(self, url: str, allowed: tuple[str, ...]) -> None:
        if "{query}" not in url:
            raise self.fail("search_url", "search_url must contain {query}")
        parts = urlsplit(url.replace("{query}", "q"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.fail("search_url", f"search_url must be an http(s) URL, got '{url}'")
        if not any(_host_matches(parts.hostname, d) for d in allowed):
            raise self.fail(
                "search_url",
                f"search_url host '{parts.hostname}' is not in allowed_domains",
            )

    def check_selector(self, key: str, selector: str, label: str | None = None) -> None:
        label = label or key
        try:
            if is_xpath(selector):
                etree.XPath(selector, namespaces=_XPATH_NAMESPACES)
            else:
                HTMLTranslator().css_to_xpath(selector)
        except (SelectorError, etree.XPathSyntaxError, ValueError) as exc:
            kind = "XPath" if is_xpath(selector) else "CSS"
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise self.fail(
                key, f"{label}: invalid {kind} selector '{selector}' ({reason})"
            ) from None

    def fields(self) -> dict[str, str]:
        value = self.data.get("fields")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail("fields", "fields must be a mapping of listing field to selector")
        out: dict[str, str] = {}
        for name, selector in value.items():
            key = f"fields.{name}"
            if name not in SELECTABLE_FIELDS:
                raise self.fail(
                    key,
                    f"field '{name}' is not a listing field "
                    f"(one of: {', '.join(SELECTABLE_FIELDS)})",
                )
            if not isinstance(selector, str) or not selector.strip():
                raise self.fail(key, f"field '{name}' needs a CSS or XPath selector string")
            self.check_selector(key, selector.strip(), label=f"field '{name}'")
            out[name] = selector.strip()
        return out


def is_xpath(selector: str) -> bool:
    """A selector is XPath when it starts with '/' or '(', CSS otherwise (DESIGN.md)."""
    return selector.lstrip().startswith(("/", "("))
