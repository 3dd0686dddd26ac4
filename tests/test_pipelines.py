"""The Dagster definitions: they load, they run a real day, and the schedule asks for it.

The day is run against the real demo marketplace on 127.0.0.1 (a random port),
with `materialize()` rather than direct invocation because the crawl asset
runs its subprocess through Dagster Pipes (DESIGN.md, "Known pitfalls").
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from dagster import (
    DagsterInstance,
    MultiPartitionKey,
    PipesSubprocessClient,
    build_schedule_context,
    materialize,
)

from monitor.config import TZ
from monitor.crawl.sources import SOURCES_DIR, bundled_sources
from monitor.demo.server import DemoMarketplace
from pipelines import defs
from pipelines.assets import (
    DUCKDB_POOL,
    all_assets,
    leads,
    leads_csv,
    listing_images,
    raw_listings,
    warehouse_listings,
)
from pipelines.partitions import daily_partitions
from pipelines.resources import MonitorResource
from pipelines.schedules import DAILY_CRON, daily_crawl

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-09-01"  # the first partition: always in range, never "today"
RIGHTS = {"ningxia-goji", "yanchi-tan-sheep", "helan-mountain-east-wine"}


def test_definitions_validate(tmp_path: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_definitions_shape() -> None:
    """Every asset that opens DuckDB is in the single-writer pool; the crawl is not."""
    pools = {a.key.to_user_string(): a.op.pool for a in all_assets}
    assert pools == {
        "raw_listings": None,
        "warehouse_listings": DUCKDB_POOL,
        "listing_images": DUCKDB_POOL,
        "leads": DUCKDB_POOL,
        "leads_csv": DUCKDB_POOL,
    }
    assert (REPO / "dagster.yaml").read_text(encoding="utf-8").count("default_limit: 1") == 1
    assert daily_partitions.timezone == "Asia/Shanghai"
    assert daily_partitions.end_offset == 1


# --------------------------------------------------------------------------
# A real day against the demo marketplace


@pytest.fixture
def demo_source(tmp_path: Path) -> Iterator[Path]:
    """The bundled demo-mall source, pointed at a demo marketplace on a free port."""
    shop = DemoMarketplace(port=0)
    base_url = shop.start()
    try:
        text = (SOURCES_DIR / "demo-mall.yaml").read_text(encoding="utf-8")
        path = tmp_path / "demo-mall.yaml"
        path.write_text(text.replace("http://127.0.0.1:8700", base_url), encoding="utf-8")
        yield path
    finally:
        shop.stop()


def _counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("snapshots", "leads", "crawl_stats", "evidence")
        }
    finally:
        con.close()


def _run_day(resources: dict[str, object], instance: DagsterInstance) -> None:
    crawl = materialize(
        [raw_listings],
        partition_key=MultiPartitionKey({"day": DAY, "source": "demo-mall"}),
        resources=resources,
        instance=instance,
    )
    assert crawl.success
    [mat] = crawl.asset_materializations_for_node("raw_listings")
    assert mat.metadata["listings"].value > 0
    assert mat.metadata["pages"].value > 0
    assert mat.metadata["responses_by_status"].value.get("200", 0) > 0
    [check] = crawl.get_asset_check_evaluations()
    assert check.passed

    daily = materialize(
        [warehouse_listings, listing_images, leads, leads_csv],
        partition_key=DAY,
        resources=resources,
        instance=instance,
    )
    assert daily.success
    assert all(c.passed for c in daily.get_asset_check_evaluations())
    [lead_mat] = daily.asset_materializations_for_node("leads")
    assert lead_mat.metadata["leads"].value > 0


def test_materialize_a_day(tmp_path: Path, demo_source: Path) -> None:
    db = tmp_path / "monitor.duckdb"
    exports = tmp_path / "exports"
    resources = {
        "monitor": MonitorResource(
            db=str(db),
            watchlists=str(REPO / "watchlists"),
            data=str(tmp_path / "data"),
            exports=str(exports),
            sources={"demo-mall": str(demo_source)},
        ),
        "pipes_subprocess_client": PipesSubprocessClient(),
    }
    instance = DagsterInstance.ephemeral()

    _run_day(resources, instance)
    first = _counts(db)
    assert first["snapshots"] > 0
    assert first["crawl_stats"] == 1
    con = duckdb.connect(str(db), read_only=True)
    try:
        rights = {r[0] for r in con.execute("SELECT DISTINCT right_id FROM leads").fetchall()}
    finally:
        con.close()
    assert rights == RIGHTS

    csv_path = exports / f"leads-{DAY}.csv"
    text = csv_path.read_text(encoding="utf-8-sig")
    assert text.startswith("lead_id,right_id,right_name")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == first["leads"]
    assert all(row["reasons"] for row in rows)

    _run_day(resources, instance)  # the same day again: nothing is stored twice
    assert _counts(db) == first


# --------------------------------------------------------------------------
# The schedule


def test_schedule_crawls_every_source_of_the_day_at_two() -> None:
    assert daily_crawl.cron_schedule == DAILY_CRON == "0 2 * * *"
    assert daily_crawl.execution_timezone == "Asia/Shanghai"
    # 02:00 in Beijing on the 2nd is still the 1st in UTC: the tick's day is Beijing's.
    tick = datetime(2026, 9, 2, 2, 0, tzinfo=TZ)
    requests = daily_crawl.evaluate_tick(
        build_schedule_context(
            scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
    ).run_requests
    assert requests is not None
    keys = {r.partition_key for r in requests}
    assert keys == {
        MultiPartitionKey({"day": "2026-09-02", "source": s}) for s in bundled_sources()
    }
    assert len({r.run_key for r in requests}) == len(requests)
