"""Checking kept evidence: is every file still what it was when it was captured?

A lead is only as good as its evidence, and evidence is only worth something
if anyone can show it has not changed since capture (DESIGN.md, "Evidence").
The warehouse's `evidence` table records, per listing and day, the SHA-256 of
each kept item:

- `page`: the listing page's record in the day's WARC file. The file holds
  every page of the day, so it is the record for the listing's URL that is
  re-hashed (its HTTP body, the bytes hashed at capture), not the whole file;
- `dom`: the serialized rendered DOM of a page rendered in a browser;
- `screenshot`: its full-page PNG.

`verify_evidence` re-hashes all of them (each WARC read once) and says, per
item, ok, changed (different bytes, or a WARC record that can no longer be
read, e.g. after truncation) or missing (the file is gone). `monitor evidence
verify` prints one line per problem and a summary, and exits 1 on any.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from monitor.crawl.rawzone import sha256_file
from monitor.warehouse import Warehouse, sql

OK, CHANGED, MISSING = "ok", "changed", "missing"


@dataclass(frozen=True)
class EvidenceItem:
    """One row of the warehouse's evidence table, with the listing URL of that day."""

    source: str
    listing_id: str
    day: date
    kind: str  # page | dom | screenshot
    path: str
    sha256: str
    url: str = ""


@dataclass(frozen=True)
class Finding:
    """The verdict on one evidence item; `detail` says what differs."""

    item: EvidenceItem
    status: str
    detail: str = ""

    def __str__(self) -> str:
        it = self.item
        text = f"{self.status.upper()} {it.kind} {it.source}/{it.listing_id} {it.day}: {it.path}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class VerifyReport:
    """All findings of one verification run."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        return Counter(f.status for f in self.findings)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status != OK]

    @property
    def files(self) -> int:
        """Distinct files read (a WARC holding many pages counts once)."""
        return len({f.item.path for f in self.findings})

    def summary(self) -> str:
        counts = self.counts
        return (
            f"checked {len(self.findings)} evidence items in {self.files} files: "
            f"{counts[OK]} ok, {counts[CHANGED]} changed, {counts[MISSING]} missing"
        )


def evidence_items(
    wh: Warehouse, data_root: Path, day: date | None = None, source: str | None = None
) -> list[EvidenceItem]:
    """The evidence rows to check (all, or of one day and/or source).

    A crawl's evidence is stored relative to the data folder it was crawled
    into, and is looked for in `data_root`, wherever the folder is now.
    """
    rows = wh.con.execute(sql("evidence_to_verify"), {"day": day, "source": source}).fetchall()
    items = []
    for row in rows:
        item = EvidenceItem(*row)
        if item.path and not Path(item.path).is_absolute():
            item = replace(item, path=str(data_root / item.path))
        items.append(item)
    return items


def warc_index(path: Path) -> tuple[dict[str, list[str]], str]:
    """SHA-256 of each response record's HTTP body, by target URI; and a read error, if any.

    Records read before an error (a truncated or damaged file) are kept, so
    only the listings whose records are lost are reported.
    """
    index: dict[str, list[str]] = {}
    error = ""
    try:
        with path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type != "response":
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                digest = hashlib.sha256()
                for chunk in iter(lambda r=record: r.raw_stream.read(1 << 16), b""):
                    digest.update(chunk)
                index.setdefault(uri, []).append(digest.hexdigest())
    except Exception as exc:  # warcio, gzip and zlib each raise their own on damage
        error = f"{type(exc).__name__}: {exc}".strip()
    return index, error


def gzip_problem(path: Path) -> str:
    """Why a gzipped WARC is damaged (e.g. truncated), or "" when it decompresses whole.

    warcio stops quietly at a gzip member cut short, so a truncated file is
    told apart from one that merely lacks a record by decompressing it fully.
    """
    if not path.name.endswith(".gz"):
        return ""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def verify_items(items: list[EvidenceItem]) -> VerifyReport:
    """Re-hash every item's file (or WARC record) and compare with the stored hash."""
    report = VerifyReport()
    warcs: dict[str, tuple[dict[str, list[str]], str]] = {}
    for item in items:
        path = Path(item.path)
        if not path.is_file():
            report.findings.append(Finding(item, MISSING, "file not found"))
            continue
        if item.kind == "page":
            if item.path not in warcs:
                warcs[item.path] = warc_index(path)
            finding = _check_record(item, *warcs[item.path])
            if finding.status != OK and not warcs[item.path][1]:
                # the first problem in this file: say whether the file itself is damaged
                warcs[item.path] = (warcs[item.path][0], gzip_problem(path) or "-")
                finding = _check_record(item, *warcs[item.path])
            report.findings.append(finding)
            continue
        try:
            actual = sha256_file(path)
        except OSError as exc:
            report.findings.append(Finding(item, MISSING, f"cannot read ({exc.strerror})"))
            continue
        if actual == item.sha256:
            report.findings.append(Finding(item, OK))
        else:
            report.findings.append(
                Finding(item, CHANGED, f"sha256 is {actual}, evidence says {item.sha256}")
            )
    return report


def _check_record(item: EvidenceItem, index: dict[str, list[str]], error: str) -> Finding:
    found = index.get(item.url, [])
    if item.sha256 in found:
        return Finding(item, OK)
    if found:
        damaged = f" (the WARC is damaged: {error})" if error and error != "-" else ""
        return Finding(
            item,
            CHANGED,
            f"record of {item.url} hashes to {found[-1]}, evidence says {item.sha256}{damaged}",
        )
    why = f" (the WARC is damaged: {error})" if error and error != "-" else ""
    return Finding(item, CHANGED, f"no record of {item.url} in the WARC{why}")


def verify_evidence(
    db: Path, data_root: Path, day: date | None = None, source: str | None = None
) -> VerifyReport:
    """Open the warehouse read-only and verify its evidence (of one day/source if given)."""
    with Warehouse(db, read_only=True) as wh:
        items = evidence_items(wh, data_root, day, source)
    return verify_items(items)


def report_lines(report: VerifyReport) -> list[str]:
    """What `monitor evidence verify` prints: one line per problem, then the summary."""
    return [*(str(f) for f in report.problems), report.summary()]


__all__ = [
    "CHANGED",
    "MISSING",
    "OK",
    "EvidenceItem",
    "Finding",
    "VerifyReport",
    "evidence_items",
    "report_lines",
    "verify_evidence",
    "verify_items",
    "gzip_problem",
    "warc_index",
]
