"""Where things live by default, and the clock the product runs on.

Enforcement works on Beijing days: a listing crawled at 01:00 on the 2nd in
Shanghai belongs to the 2nd, even though it is still the 1st in UTC.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

DEFAULT_DB = Path("warehouse/monitor.duckdb")
DEFAULT_WATCHLISTS = Path("watchlists")
DEFAULT_DATA = Path("data")
DEFAULT_EXPORTS = Path("exports")


def db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file: flag, then MONITOR_DB, then the default."""
    return Path(explicit or os.environ.get("MONITOR_DB") or DEFAULT_DB)


def watchlists_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The watchlists folder: flag, then MONITOR_WATCHLISTS, then the default."""
    return Path(explicit or os.environ.get("MONITOR_WATCHLISTS") or DEFAULT_WATCHLISTS)


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The raw zone (crawled JSONL, WARC, screenshots): flag, MONITOR_DATA, default."""
    return Path(explicit or os.environ.get("MONITOR_DATA") or DEFAULT_DATA)


def exports_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where lead CSVs go unless --out says otherwise."""
    return Path(explicit or os.environ.get("MONITOR_EXPORTS") or DEFAULT_EXPORTS)


def now() -> datetime:
    """The current time in Asia/Shanghai (aware)."""
    return datetime.now(TZ)


def today() -> date:
    """Today's date in Asia/Shanghai, the default crawl day."""
    return now().date()


def parse_day(text: str | None) -> date | None:
    """Parse a --date value (YYYY-MM-DD); None stays None."""
    if text is None:
        return None
    from monitor.errors import UserError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--date: {text!r} is not a date of the form YYYY-MM-DD") from None
