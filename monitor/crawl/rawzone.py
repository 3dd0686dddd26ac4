"""The raw zone's layout for one source and day, and how its files are replaced.

`<data>/raw/<source>/<YYYY-MM-DD>/` holds `listings.jsonl`, `pages.warc.gz` and
`stats.json`. Re-running a source for a day must not duplicate anything
(DESIGN.md, "Storage"), so each file is written to a hidden temporary file
beside it and moved over the day's file only when the crawl finished: a re-run
replaces the previous run's files as a whole, and an interrupted run leaves
them as they were.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import IO, Any

from monitor.config import data_dir

LISTINGS_FILE = "listings.jsonl"
WARC_FILE = "pages.warc.gz"
STATS_FILE = "stats.json"

# The setting the runner uses to tell the components where the day's files go.
DAY_DIR_SETTING = "MONITOR_DAY_DIR"


def day_dir(data_root: Path, source: str, day: date) -> Path:
    """`<data_root>/raw/<source>/<YYYY-MM-DD>`."""
    return Path(data_root) / "raw" / source / day.isoformat()


def crawl_day_dir(settings: Any, spider: Any) -> Path:
    """The day directory of a running crawl: the runner's setting, else the default data dir."""
    explicit = settings.get(DAY_DIR_SETTING)
    if explicit:
        return Path(explicit)
    return day_dir(data_dir(), spider.source.name, spider.day)


class StagedFile:
    """A file written under a temporary name and moved into place on `commit`.

    The temporary file sits in the same directory, so the final `os.replace`
    is atomic: readers see either the previous run's file or this run's,
    never a mix.
    """

    def __init__(self, final: Path, mode: str = "wb") -> None:
        self.final = Path(final)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.temp = self.final.with_name(f".{self.final.name}.{os.getpid()}.tmp")
        encoding = None if "b" in mode else "utf-8"
        self.handle: IO[Any] = open(self.temp, mode, encoding=encoding)  # noqa: SIM115

    def commit(self) -> Path:
        """Flush to disk and replace the final file."""
        if not self.handle.closed:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
        os.replace(self.temp, self.final)
        return self.final

    def discard(self) -> None:
        """Drop what was written; the final file (if any) stays as it was."""
        if not self.handle.closed:
            self.handle.close()
        self.temp.unlink(missing_ok=True)


def write_json_atomically(path: Path, obj: Any) -> None:
    """Write `obj` as pretty UTF-8 JSON, replacing `path` in one step."""
    staged = StagedFile(path, "w")
    json.dump(obj, staged.handle, ensure_ascii=False, indent=2, sort_keys=True)
    staged.handle.write("\n")
    staged.commit()
