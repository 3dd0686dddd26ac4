"""The DuckDB warehouse: the one place that writes it.

The schema is versioned SQL under `warehouse/schema/` (applied in order on open,
each file once, recorded in `schema_migrations`); every query the product runs
is a named file under `warehouse/queries/`. DuckDB allows one writing process
per file, so every stage opens the warehouse, does its work in one transaction
and closes it; a second writer gets a clear "in use" error instead of a lock
trace.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from monitor.config import TZ, now
from monitor.errors import UserError
from monitor.listing import Listing, parse_listing

ROOT = Path(__file__).resolve().parent.parent / "warehouse"
SCHEMA_DIR = ROOT / "schema"
QUERY_DIR = ROOT / "queries"


@cache
def sql(name: str) -> str:
    """The text of the named query file in warehouse/queries/."""
    return (QUERY_DIR / f"{name}.sql").read_text(encoding="utf-8")


def content_hash(listing: Listing) -> str:
    """Hash of what a page said about a listing (not when it was fetched)."""
    rec = listing.to_record()
    rec.pop("crawled_at", None)
    rec.pop("evidence", None)
    return hashlib.sha256(json.dumps(rec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class LoadResult:
    """What loading a batch of listings changed."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.new + self.changed + self.unchanged


class Warehouse:
    """An open warehouse file with the schema applied."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise UserError(f"{path}: no warehouse here yet (run 'monitor demo' or an ingest)")
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise UserError(f"{path}: the warehouse is in use by another process") from None
            raise UserError(f"{path}: cannot open the warehouse ({exc})") from None
        except duckdb.Error as exc:
            raise UserError(f"{path}: not a DuckDB warehouse ({exc})") from None
        self.con.execute("SET TimeZone = 'Asia/Shanghai'")
        if not read_only:
            self._migrate()

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: a failure leaves what was stored before untouched."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def _migrate(self) -> None:
        self.con.execute(sql("create_migrations"))
        done = {row[0] for row in self.con.execute(sql("applied_migrations")).fetchall()}
        for path in sorted(SCHEMA_DIR.glob("*.sql")):
            version = int(path.name.split("_", 1)[0])
            if version in done:
                continue
            with self.transaction() as con:
                con.execute(path.read_text(encoding="utf-8"))
                con.execute(
                    sql("record_migration"),
                    {"version": version, "name": path.name, "applied_at": now()},
                )

    def schema_version(self) -> int:
        applied = self.con.execute(sql("applied_migrations")).fetchall()
        return int(applied[-1][0]) if applied else 0

    # -- listings ----------------------------------------------------------------

    def load_listings(self, listings: Iterable[Listing]) -> LoadResult:
        """Store listings as daily snapshots (and their evidence) in one transaction."""
        result = LoadResult()
        loaded_at = now()
        with self.transaction() as con:
            for listing in listings:
                digest = content_hash(listing)
                key = {"source": listing.source, "listing_id": listing.listing_id,
                       "day": listing.day}
                row = con.execute(sql("snapshot_hash"), key).fetchone()
                if row is None:
                    result.new += 1
                elif row[0] != digest:
                    result.changed += 1
                else:
                    result.unchanged += 1
                con.execute(
                    sql("upsert_snapshot"),
                    {
                        "source": listing.source,
                        "listing_id": listing.listing_id,
                        "day": listing.day,
                        "url": listing.url,
                        "title": listing.title,
                        "description": listing.description,
                        "price": listing.price,
                        "quantity": listing.quantity,
                        "seller_id": listing.seller_id,
                        "seller_name": listing.seller_name,
                        "ship_from": listing.ship_from,
                        "image_urls": list(listing.image_urls),
                        "crawled_at": listing.crawled_at,
                        "content_sha256": digest,
                        "loaded_at": loaded_at,
                    },
                )
                ev = listing.evidence
                if ev is None:
                    continue
                captured = datetime.fromisoformat(ev.captured_at) if ev.captured_at else None
                for kind, path, sha in (
                    ("page", ev.warc_path, ev.sha256),
                    ("dom", ev.dom_path, ev.dom_sha256),
                    ("screenshot", ev.screenshot_path, ev.screenshot_sha256),
                ):
                    if path and sha:
                        con.execute(
                            sql("upsert_evidence"),
                            {
                                "source": listing.source,
                                "listing_id": listing.listing_id,
                                "day": listing.day,
                                "kind": kind,
                                "path": path,
                                "sha256": sha,
                                "captured_at": captured,
                            },
                        )
        return result

    def days(self) -> list[date]:
        """Every crawl day with stored snapshots."""
        return [row[0] for row in self.con.execute(sql("snapshot_days")).fetchall()]

    def snapshots_of_day(self, day: date) -> list[Listing]:
        """The listings as stored for one day."""
        cur = self.con.execute(sql("snapshots_of_day"), {"day": day})
        cols = [c[0] for c in cur.description]
        out = []
        for row in cur.fetchall():
            rec: dict[str, Any] = dict(zip(cols, row, strict=True))
            rec["crawled_at"] = rec["crawled_at"].astimezone(TZ).isoformat()
            rec["image_urls"] = list(rec["image_urls"] or [])
            out.append(parse_listing(rec))
        return out

    # -- leads -------------------------------------------------------------------

    def seller_lead_days(self, skip_days: list[date]) -> dict[tuple[str, str], set[date]]:
        """(source, seller_id) → days with leads, leaving out the days being re-matched."""
        rows = self.con.execute(sql("lead_seller_days"), {"skip_days": skip_days}).fetchall()
        out: dict[tuple[str, str], set[date]] = {}
        for source, seller_id, day in rows:
            out.setdefault((source, seller_id), set()).add(day)
        return out

    def replace_lead_days(self, day: date, rows: list[dict[str, Any]]) -> None:
        """Make `rows` the whole verdict for `day`, then re-derive the leads table."""
        stamp = now()
        with self.transaction() as con:
            con.execute(sql("delete_lead_days"), {"day": day})
            for row in rows:
                con.execute(sql("insert_lead_day"), {**row, "day": day, "matched_at": stamp})
            con.execute(sql("refresh_leads"), {"now": stamp})
            con.execute(sql("prune_leads"))

    def day_summary(self, day: date) -> list[tuple[str, str, int]]:
        """(right_id, priority, leads) for one day."""
        return [tuple(r) for r in self.con.execute(sql("summary"), {"day": day}).fetchall()]

    def lead_priorities(self) -> list[tuple[str, str, str]]:
        """(listing_id, right_id, priority) of every lead."""
        return [tuple(r) for r in self.con.execute(sql("lead_priorities")).fetchall()]

    def export_rows(
        self, status: str | None, jurisdiction: str | None, min_rank: int
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Leads for the CSV, highest priority first, with column names."""
        cur = self.con.execute(
            sql("export_leads"),
            {
                "status": status,
                "jurisdiction": jurisdiction.replace(" ", "") if jurisdiction else None,
                "min_rank": min_rank,
            },
        )
        return [c[0] for c in cur.description], cur.fetchall()

    def set_status(self, lead_id: str, status: str, note: str, by: str) -> str:
        """Change a lead's status and append to the triage log; returns the old status."""
        row = self.con.execute(sql("lead_by_id"), {"lead_id": lead_id}).fetchone()
        if row is None:
            raise UserError(f"lead {lead_id!r} not found")
        stamp = now()
        with self.transaction() as con:
            con.execute(sql("set_lead_status"),
                        {"lead_id": lead_id, "status": status, "now": stamp})
            con.execute(
                sql("append_triage"),
                {"lead_id": lead_id, "now": stamp, "from_status": row[1], "to_status": status,
                 "note": note, "by_name": by},
            )
        return str(row[1])

    # -- images ------------------------------------------------------------------

    def image_urls_to_fetch(self, day: date | None) -> list[tuple[str, str]]:
        """(source, url) of listing images never tried before."""
        rows = self.con.execute(sql("image_urls_to_fetch"), {"day": day}).fetchall()
        return [(r[0], r[1]) for r in rows]

    def image_known(self, sha256: str) -> bool:
        return self.con.execute(sql("image_known"), {"sha256": sha256}).fetchone() is not None

    def record_images(self, fetches: list[tuple[Any, ...]], images: list[tuple[Any, ...]]) -> None:
        """Store fetch outcomes and new images with their hashes, all or nothing."""
        with self.transaction() as con:
            for sha, path, fmt, width, height, size, h, stamp in images:
                con.execute(sql("insert_image"), {
                    "sha256": sha, "path": path, "format": fmt, "width": width,
                    "height": height, "bytes": size, "phash": h.phash, "dhash": h.dhash,
                    "phash_mirror": h.phash_mirror, "segments": list(h.segments),
                    "hashed_at": stamp,
                })
            for url, status, reason, sha, stamp in fetches:
                con.execute(sql("record_image_fetch"), {
                    "url": url, "status": status, "reason": reason, "sha256": sha,
                    "fetched_at": stamp,
                })

    def listing_image_hashes(self, day: date) -> dict[tuple[str, str], list[tuple[str, Any]]]:
        """(source, listing_id) → [(url, Hashes)] for the listings of one day."""
        from monitor.image.hashing import Hashes

        out: dict[tuple[str, str], list[tuple[str, Any]]] = {}
        for row in self.con.execute(sql("listing_image_hashes"), {"day": day}).fetchall():
            source, listing_id, _, url, _, ph, dh, pm, segs = row
            out.setdefault((source, listing_id), []).append(
                (url, Hashes(int(ph), int(dh), int(pm), tuple(int(s) for s in segs or ())))
            )
        return out

    def seller_images(self, day: date, sellers: list[str]) -> list[tuple[Any, ...]]:
        """Hashed listing images of the given 'source|seller_id' sellers, up to `day`."""
        if not sellers:
            return []
        return self.con.execute(
            sql("authorized_seller_images"), {"day": day, "sellers": sellers}
        ).fetchall()

    def image_fetch_summary(self) -> list[tuple[str, str, int]]:
        return [tuple(r) for r in self.con.execute(sql("image_fetch_summary")).fetchall()]

    # -- crawl statistics ---------------------------------------------------------

    def record_crawl_stats(self, source: str, day: date, stats: dict[str, Any]) -> None:
        with self.transaction() as con:
            con.execute(
                sql("upsert_crawl_stats"),
                {"source": source, "day": day, "stats": json.dumps(stats), "now": now()},
            )

