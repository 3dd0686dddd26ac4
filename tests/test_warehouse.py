"""The DuckDB warehouse: schema on open, idempotent loads, one writer at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.errors import UserError
from monitor.leads import match_days
from monitor.listing import Evidence
from monitor.warehouse import SCHEMA_DIR, Warehouse
from monitor.watchlist import load_rights

from .conftest import make_listing


def test_schema_is_applied_once(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        latest = max(int(p.name.split("_")[0]) for p in SCHEMA_DIR.glob("*.sql"))
        assert wh.schema_version() == latest
    with Warehouse(db) as wh:  # reopening applies nothing twice
        assert wh.schema_version() == latest


def test_reloading_a_day_changes_nothing(tmp_path: Path, watchlists: Path) -> None:
    listings = [
        make_listing(listing_id="a", title="柠夏枸杞 特级", ship_from="浙江 杭州",
                     evidence=Evidence(sha256="ab" * 32, warc_path="x.warc.gz",
                                       captured_at="2026-11-21T01:30:00+00:00")),
        make_listing(listing_id="b", title="青海枸杞 特级"),
    ]
    rights = load_rights(watchlists)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        first = wh.load_listings(listings)
        assert (first.new, first.unchanged) == (2, 0)
        match_days(wh, rights)
        again = wh.load_listings(listings)
        assert (again.new, again.changed, again.unchanged) == (0, 0, 2)
        match_days(wh, rights)
        assert wh.lead_priorities() == [("a", "ningxia-goji", "high")]
        cols, rows = wh.export_rows(None, None, 0)
        assert rows[0][cols.index("evidence_sha256")] == "ab" * 32

        # The page changed the same day: the snapshot is replaced, not added.
        changed = wh.load_listings([make_listing(listing_id="b", title="青海枸杞 头茬")])
        assert changed.changed == 1
        assert len(wh.snapshots_of_day(listings[0].day)) == 2


def test_a_failed_load_keeps_what_was_stored(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.load_listings([make_listing(listing_id="keep")])

        def broken():
            yield make_listing(listing_id="new-1")
            raise RuntimeError("disk full")

        with pytest.raises(RuntimeError):
            wh.load_listings(broken())
        day = make_listing().day
        assert [x.listing_id for x in wh.snapshots_of_day(day)] == ["keep"]


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True);"
         " time.sleep(30)", str(db)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(UserError, match="in use by another process"):
            Warehouse(db)
    finally:
        holder.kill()
        holder.wait()


def test_read_only_on_a_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no warehouse"):
        Warehouse(tmp_path / "none.duckdb", read_only=True)
