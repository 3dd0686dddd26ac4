"""Shared fixtures: paths, a copy of the watchlists, the demo marketplace, listings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.config import TZ
from monitor.listing import Evidence, Listing, parse_listing

REPO = Path(__file__).resolve().parent.parent
WATCHLISTS = REPO / "watchlists"
SHARED_EVAL = REPO.parent / "shared" / "eval"


@pytest.fixture
def watchlists(tmp_path: Path) -> Path:
    """A private copy of the project's watchlists that a test may edit."""
    target = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, target)
    return target


@pytest.fixture(scope="session")
def demo_market() -> Iterator[str]:
    """The demo marketplace on a free port of 127.0.0.1; yields its base URL."""
    from monitor.demo.server import DemoMarketplace

    market = DemoMarketplace(port=0)
    base = market.start()
    yield base
    market.stop()


def make_listing(**overrides: Any) -> Listing:
    """A valid listing with sensible defaults, overridden per test."""
    rec: dict[str, Any] = {
        "source": "demo-mall",
        "listing_id": "t-1",
        "url": "http://127.0.0.1/item/t-1",
        "title": "宁夏枸杞 特级 500g",
        "description": "",
        "price": 88.0,
        "quantity": "500g",
        "seller_id": "shop-9999",
        "seller_name": "测试小店",
        "ship_from": "",
        "image_urls": [],
        "crawled_at": datetime(2026, 11, 21, 9, 30, tzinfo=TZ).isoformat(),
    }
    rec.update(overrides)
    if isinstance(rec.get("evidence"), Evidence):
        rec["evidence"] = asdict(rec["evidence"])
    return parse_listing(rec)
