"""The raw zone's layout for one source and day, how its files are replaced, and crawl jobs.

`<data>/raw/<source>/<YYYY-MM-DD>/` holds `listings.jsonl`, `pages.warc.gz`,
`stats.json`, `images.jsonl` (what became of each listing image URL, see
`pipelines.ListingImagesPipeline`; the images themselves go to the shared,
content-addressed `<data>/images/`) and, for a source rendered in a browser, `dom/<listing>.html`
(the serialized rendered DOM) and `screenshots/<listing>.png`. Re-running a
source for a day must not duplicate anything (DESIGN.md, "Storage"), so each
file is written to a hidden temporary file beside it and moved over the day's
file only when the crawl finished: a re-run replaces the previous run's files
as a whole, and an interrupted run leaves them as they were.

An interrupted crawl can be resumed. `<data>/jobs/<source>/<YYYY-MM-DD>/` is
Scrapy's JOBDIR for that day (its request queue, the fingerprints of the
requests already made, spider state) plus `parts/NNN/`: what each interrupted
run had written (its share of listings.jsonl, pages.warc.gz, dom/, screenshots/
and its stats.json). A resumed run continues from the queue; when it
finishes, the day files are the parts followed by its own output, so the day
ends with every listing exactly once, whatever the number of interruptions.
The job folder is removed once a run finishes, so the next run of that day is
a fresh crawl again (a re-run, not a continuation).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from monitor.config import data_dir
from monitor.errors import UserError

logger = logging.getLogger(__name__)

LISTINGS_FILE = "listings.jsonl"
WARC_FILE = "pages.warc.gz"
STATS_FILE = "stats.json"
IMAGES_FILE = "images.jsonl"
IMAGES_STORE_DIR = "images"  # under the data root, beside raw/ and jobs/
DOM_DIR = "dom"
SCREENSHOTS_DIR = "screenshots"
JOB_STATE_FILE = "job.json"
PARTS_DIR = "parts"

# Settings the runner uses to tell the components where the day's files go and
# where an interrupted run leaves its share (see `RunParts`).
DAY_DIR_SETTING = "MONITOR_DAY_DIR"
PARTS_SETTING = "MONITOR_JOB_PARTS"
RUN_PART_SETTING = "MONITOR_RUN_PART"

# A listing id names its DOM and screenshot files; ids are the marketplace's,
# so anything that could climb out of the folder or clash is encoded.
_SAFE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def day_dir(data_root: Path, source: str, day: date) -> Path:
    """`<data_root>/raw/<source>/<YYYY-MM-DD>`."""
    return Path(data_root) / "raw" / source / day.isoformat()


def job_dir(data_root: Path, source: str, day: date) -> Path:
    """`<data_root>/jobs/<source>/<YYYY-MM-DD>`: Scrapy's JOBDIR and the interrupted runs' parts."""
    return Path(data_root) / "jobs" / source / day.isoformat()


def crawl_day_dir(settings: Any, spider: Any) -> Path:
    """The day directory of a running crawl: the runner's setting, else the default data dir."""
    explicit = settings.get(DAY_DIR_SETTING)
    if explicit:
        return Path(explicit)
    return day_dir(data_dir(), spider.source.name, spider.day)


def crawl_images_store(settings: Any) -> Path:
    """`<data>/images`, the content-addressed image store the image stage also uses.

    FILES_STORE when set (the runner sets it), else the data root of the
    runner's day dir (`<data>/raw/<source>/<day>`), else the default data dir.
    """
    explicit = settings.get("FILES_STORE")
    if explicit:
        return Path(explicit)
    day = settings.get(DAY_DIR_SETTING)
    root = Path(day).parents[2] if day else data_dir()
    return root / IMAGES_STORE_DIR


def file_stem(listing_id: str) -> str:
    """The file name (without extension) of a listing's DOM and screenshot files.

    A plain id is used as is; any other id (slashes, dots only, non-ASCII,
    very long) becomes a readable prefix plus a hash of the id, so that two
    ids never share a file and no id names a path outside its folder.
    """
    if _SAFE_STEM.match(listing_id) and not listing_id.endswith("."):
        return listing_id
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", listing_id).strip("_")[:40] or "id"
    digest = hashlib.sha256(listing_id.encode("utf-8")).hexdigest()[:16]
    return f"{readable}-{digest}"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _move(src: Path, dst: Path) -> None:
    """os.replace, or copy-then-replace when the two are on different file systems."""
    try:
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        temp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        if src.is_dir():
            shutil.copytree(src, temp)
            shutil.rmtree(src)
        else:
            shutil.copy2(src, temp)
            src.unlink()
        os.replace(temp, dst)


@dataclass(frozen=True)
class RunParts:
    """The parts left by earlier, interrupted runs of a crawl, and where this run's goes.

    `earlier` are complete parts (each has its stats.json) in run order;
    `current` is where this run's output is moved if it is interrupted, or
    None when the crawl has no job folder (then an interrupted run's output is
    simply discarded, as before resuming existed).
    """

    earlier: tuple[Path, ...] = ()
    current: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> RunParts:
        root = settings.get(PARTS_SETTING)
        if not root:
            return cls()
        current = settings.get(RUN_PART_SETTING)
        return cls(
            earlier=tuple(complete_parts(Path(root), exclude=current)),
            current=Path(root) / current if current else None,
        )

    def files(self, name: str) -> list[Path]:
        """The earlier parts' copies of one day file (those that have one), in run order."""
        return [p / name for p in self.earlier if (p / name).is_file()]


def complete_parts(root: Path, exclude: str | None = None) -> list[Path]:
    """Part folders under `root` that an interrupted run finished writing, in run order."""
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.is_dir() and p.name != exclude and (p / STATS_FILE).is_file()
    )


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

    def _close(self) -> None:
        if not self.handle.closed:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()

    def commit(self, earlier: Sequence[Path] = ()) -> Path:
        """Flush to disk and replace the final file; `earlier` files are put in front.

        `earlier` are the interrupted runs' shares of this file: JSON Lines and
        gzipped WARC records both concatenate into a valid file.
        """
        self._close()
        if earlier:
            combined = self.final.with_name(f".{self.final.name}.{os.getpid()}.combined.tmp")
            with combined.open("wb") as out:
                for path in [*earlier, self.temp]:
                    with path.open("rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(combined, self.final)
            self.temp.unlink(missing_ok=True)
        else:
            os.replace(self.temp, self.final)
        return self.final

    def suspend(self, part: Path) -> Path:
        """Keep what was written as this run's part of an interrupted crawl."""
        self._close()
        part.mkdir(parents=True, exist_ok=True)
        target = part / self.final.name
        _move(self.temp, target)
        return target

    def discard(self) -> None:
        """Drop what was written; the final file (if any) stays as it was."""
        if not self.handle.closed:
            self.handle.close()
        self.temp.unlink(missing_ok=True)

    def finish(self, reason: str, parts: RunParts) -> None:
        """End of the crawl: commit when it finished, else keep a part (or discard)."""
        if reason == "finished":
            self.commit(parts.files(self.final.name))
        elif parts.current is not None:
            self.suspend(parts.current)
            logger.info("Crawl ended (%s): %s kept for resuming", reason, self.final.name)
        else:
            logger.warning("Crawl ended (%s): the day's %s is left as it was", reason,
                           self.final.name)
            self.discard()


class StagedFolder:
    """Files of one kind (DOM, screenshots) written for a crawl and put in place at its end.

    Each file is written to a hidden staging folder beside the day's folder.
    When the crawl finished, the earlier parts' files and this run's are moved
    into the day's folder one by one with `os.replace` (each file is replaced
    atomically), then the files a previous run left for listings no longer
    found are removed, so the folder holds exactly the day's listings.
    """

    def __init__(self, final: Path) -> None:
        self.final = Path(final)
        self.staging = self.final.parent / f".{self.final.name}.{os.getpid()}.tmp"
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)

    def write(self, name: str, data: bytes) -> tuple[Path, str]:
        """Stage one file; returns its final path and the SHA-256 of `data`."""
        with (self.staging / name).open("wb") as handle:
            handle.write(data)
        return self.final / name, hashlib.sha256(data).hexdigest()

    def commit(self, earlier: Sequence[Path] = ()) -> Path:
        """Move the earlier parts' files, then this run's, into the day's folder."""
        self.final.mkdir(parents=True, exist_ok=True)
        kept: set[str] = set()
        for folder in [*earlier, self.staging]:
            for path in sorted(folder.iterdir()):
                if not path.is_file():
                    continue
                if folder is self.staging:
                    os.replace(path, self.final / path.name)
                else:  # a part lives under jobs/: copy in, then replace atomically
                    temp = self.final / f".{path.name}.{os.getpid()}.tmp"
                    shutil.copyfile(path, temp)
                    os.replace(temp, self.final / path.name)
                kept.add(path.name)
        for path in self.final.iterdir():
            if path.is_file() and path.name not in kept and not path.name.startswith("."):
                path.unlink()
        shutil.rmtree(self.staging, ignore_errors=True)
        return self.final

    def suspend(self, part: Path) -> Path:
        part.mkdir(parents=True, exist_ok=True)
        target = part / self.final.name
        if target.exists():
            shutil.rmtree(target)
        _move(self.staging, target)
        return target

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def finish(self, reason: str, parts: RunParts) -> None:
        """Like `StagedFile.finish`, for a folder of files."""
        if reason == "finished":
            earlier = [p / self.final.name for p in parts.earlier]
            self.commit([p for p in earlier if p.is_dir()])
        elif parts.current is not None:
            self.suspend(parts.current)
        else:
            self.discard()


def write_json_atomically(path: Path, obj: Any) -> None:
    """Write `obj` as pretty UTF-8 JSON, replacing `path` in one step."""
    staged = StagedFile(path, "w")
    json.dump(obj, staged.handle, ensure_ascii=False, indent=2, sort_keys=True)
    staged.handle.write("\n")
    staged.commit()


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the hidden temporary files and folders a killed crawl left in a day folder.

    Only called while holding the day's crawl lock, so no live crawl owns them.
    """
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


class CrawlJob:
    """The job folder of one source and day: Scrapy's JOBDIR plus the interrupted runs' parts.

    `job.json` says whether the last run stopped cleanly ("suspended") or is
    (or was, when its process died) "running". Only a cleanly suspended job is
    resumed: after a hard kill Scrapy's queue files may be half-written, so
    the crawl starts over instead of trusting them.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(f".{self.path.name}.lock")
        self._lock_handle: IO[Any] | None = None
        self.run_part = ""
        self.resumed = False

    @property
    def parts_root(self) -> Path:
        return self.path / PARTS_DIR

    @contextlib.contextmanager
    def locked(self, what: str) -> Iterator[CrawlJob]:
        """Hold the day's crawl lock; a second crawl of the same source and day is refused."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise UserError(
                f"{what}: another crawl of this source and day is running "
                f"(lock {self.lock_path})"
            ) from None
        self._lock_handle = handle
        try:
            yield self
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()
            self._lock_handle = None

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / JOB_STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self, **state: Any) -> None:
        write_json_atomically(self.path / JOB_STATE_FILE, state)

    def start(self, *, fresh: bool = False) -> None:
        """Prepare the folder for a run: resume a suspended job, else start a new one."""
        state = self.state()
        suspended = state.get("state") == "suspended" and self.path.is_dir()
        if suspended and not fresh:
            self.resumed = True
            runs = len(complete_parts(self.parts_root))
            logger.info("Resuming the crawl in %s after %d interrupted run(s)", self.path, runs)
        else:
            if self.path.exists():
                if not fresh:
                    logger.warning(
                        "The last crawl in %s did not stop cleanly; starting over", self.path
                    )
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
            runs = 0
        self.run_part = f"{runs + 1:03d}"
        self._write_state(state="running", run=runs + 1)

    def suspend(self, stats: dict[str, Any]) -> Path:
        """Record an interrupted run: its stats beside its part, the job as resumable."""
        part = self.parts_root / self.run_part
        part.mkdir(parents=True, exist_ok=True)
        write_json_atomically(part / STATS_FILE, stats)
        self._write_state(state="suspended", run=int(self.run_part))
        return part

    def part_stats(self) -> list[dict[str, Any]]:
        """The stats of every earlier interrupted run, in run order."""
        out = []
        for part in complete_parts(self.parts_root, exclude=self.run_part):
            with contextlib.suppress(OSError, ValueError):
                out.append(json.loads((part / STATS_FILE).read_text(encoding="utf-8")))
        return out

    def remove(self) -> None:
        """The crawl finished: the next run of this day starts afresh."""
        shutil.rmtree(self.path, ignore_errors=True)
