"""Rules 2 and 3: authorization, impersonation, priority; and the parsers they rest on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from monitor.image.matching import ImageHit
from monitor.places import INSIDE, OUTSIDE, UNKNOWN, Area
from monitor.quantity import parse_quantity, unit_price
from monitor.scoring import assess
from monitor.text.matcher import Matcher
from monitor.watchlist import Right, load_rights

from .conftest import make_listing


@pytest.fixture
def rights(watchlists: Path) -> dict[str, Right]:
    (watchlists / "authorized" / "ningxia-goji.csv").write_text(
        "source,seller_id,seller_name,licence_no,valid_from,valid_until,note\n"
        "demo-mall,shop-1,杞园旗舰店,NX-1,2025-01-01,2027-12-31,\n"
        "demo-mall,shop-2,老杞农小店,NX-2,2024-01-01,2026-11-20,lapsed the day before\n",
        encoding="utf-8",
    )
    return {r.id: r for r in load_rights(watchlists)}


def verdict(rights: dict[str, Right], right_id: str = "ningxia-goji", **fields: object):
    listing = make_listing(**fields)
    match = Matcher(rights.values()).referred(listing.title, listing.description)[right_id]
    return assess(listing, rights[right_id], match,
                  prior_lead_days=int(fields.get("_prior", 0)))  # type: ignore[arg-type]


def test_authorized_seller_is_no_lead(rights: dict[str, Right]) -> None:
    got = verdict(rights, seller_id="shop-1", ship_from="宁夏 中卫 中宁县")
    assert not got.lead and got.priority is None
    assert got.authorized_by is not None and got.authorized_by.licence_no == "NX-1"


def test_licence_lapsed_before_crawl_day_is_a_lead(rights: dict[str, Right]) -> None:
    got = verdict(rights, seller_id="shop-2", ship_from="宁夏 吴忠 同心县")
    assert got.lead and got.priority == "low"
    assert "许可已过期" in got.reasons_text and "NX-2" in got.reasons_text


def test_authorization_is_per_marketplace(rights: dict[str, Right]) -> None:
    assert verdict(rights, source="other-mall", seller_id="shop-1").lead


def test_impersonation_by_shop_name(rights: dict[str, Right]) -> None:
    got = verdict(rights, seller_id="shop-666", seller_name="杞园旗舰店", ship_from="")
    assert got.lead and got.priority == "medium"
    assert "impersonation" in got.reasons_text and "shop-1" in got.reasons_text


@pytest.mark.parametrize(
    ("fields", "priority"),
    [
        ({"ship_from": "宁夏 中卫 中宁县"}, "low"),
        ({"ship_from": "宁夏 银川"}, "medium"),  # 银川 holds part of the goji area
        ({"ship_from": "宁夏 银川 兴庆区"}, "high"),
        ({"ship_from": ""}, "medium"),
        ({"ship_from": "河北 邢台"}, "high"),
        ({"ship_from": "宁夏 中卫 中宁县", "title": "寧夏枸杞 特級"}, "high"),
        ({"ship_from": "宁夏 中卫 中宁县", "title": "宁夏枸杞同款"}, "high"),
        ({"ship_from": "宁夏 中卫 中宁县", "price": 25.0, "quantity": "500g"}, "high"),
        ({"ship_from": "宁夏 中卫 中宁县", "price": 55.0, "quantity": "250g*4"}, "high"),
        ({"ship_from": "宁夏 中卫 中宁县", "_prior": 2}, "high"),
        ({"ship_from": "宁夏 中卫 中宁县", "_prior": 1}, "low"),
        ({"ship_from": "宁夏 中卫 中宁县", "title": "ning xia gou qi 头茬"}, "low"),
    ],
)
def test_priority_follows_rule_3(
    rights: dict[str, Right], fields: dict[str, object], priority: str
) -> None:
    got = verdict(rights, **fields)
    assert got.lead
    assert got.priority == priority, got.reasons_text


def test_image_reasons_make_it_high(rights: dict[str, Right]) -> None:
    listing = make_listing(ship_from="宁夏 中卫 中宁县")
    match = Matcher(rights.values()).referred(listing.title)["ningxia-goji"]
    got = assess(listing, rights["ningxia-goji"], match,
                 images=[ImageHit("ningxia-goji", "special_mark", "http://x/1.png",
                                  "ningxia-goji-mark.png", "pHash distance 2")])
    assert got.priority == "high" and "special mark" in got.reasons_text


def test_area_relation() -> None:
    area = Area.from_entries(["宁夏回族自治区 吴忠市 盐池县"])
    assert area.relation("宁夏 吴忠 盐池县 花马池镇")[0] == INSIDE
    assert area.relation("宁夏吴忠市盐池县")[0] == INSIDE
    assert area.relation("宁夏 吴忠")[0] == UNKNOWN
    assert area.relation("宁夏 银川")[0] == OUTSIDE
    assert area.relation("宁夏 中卫 沙坡头区")[0] == OUTSIDE
    assert area.relation("青海省格尔木市")[0] == OUTSIDE
    assert area.relation("北京")[0] == OUTSIDE
    assert area.relation("")[0] == UNKNOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500g", (500.0, "g")),
        ("250g*2", (500.0, "g")),
        ("250g×4", (1000.0, "g")),
        ("2.5kg", (2500.0, "g")),
        ("2斤", (1000.0, "g")),
        ("750ml*6", (4500.0, "ml")),
        ("1.5L", (1500.0, "ml")),
        ("500g+1kg", None),
        ("1本", None),
        ("", None),
    ],
)
def test_parse_quantity(text: str, expected: tuple[float, str] | None) -> None:
    assert parse_quantity(text) == expected


def test_unit_price() -> None:
    assert unit_price(188.0, "750ml*6", 750, "ml") == pytest.approx(31.333, rel=1e-3)
    assert unit_price(59.0, "1kg", 500, "g") == pytest.approx(29.5)
    assert unit_price(None, "1kg", 500, "g") is None
    assert unit_price(99.0, "750ml", 500, "g") is None


def test_licence_dates_are_inclusive() -> None:
    from monitor.watchlist import Authorization

    auth = Authorization("m", "s", "n", valid_from=date(2026, 1, 1), valid_until=date(2026, 9, 15))
    assert auth.valid_on(date(2026, 9, 15)) and not auth.valid_on(date(2026, 9, 16))
    assert not auth.valid_on(date(2025, 12, 31))
