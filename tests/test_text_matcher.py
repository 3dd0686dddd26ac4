"""Rule 1 of LEAD_RULES.md: what refers to a right, with the evidence of why."""

from __future__ import annotations

import pytest

from monitor.text.matcher import Matcher
from monitor.text.normalize import normalize
from monitor.text.variants import fold_syllable, substitution
from monitor.watchlist import load_rights

from .conftest import WATCHLISTS


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rights(WATCHLISTS))


def refs(matcher: Matcher, title: str, description: str = "") -> dict[str, set[str]]:
    """right id → forms found."""
    return {
        rid: {r.form for r in m.references}
        for rid, m in matcher.referred(title, description).items()
    }


def test_normalize_keeps_provenance() -> None:
    norm = normalize("寧-夏 枸🌟杞，ＮＩＮＧ")
    assert norm.text == "宁夏枸杞ning"
    assert norm.chars[0].converted and not norm.chars[1].converted
    assert norm.chars[1].gap == "separator"
    assert norm.chars[3].gap == "separator"
    assert norm.original_slice(0, 4) == "寧-夏 枸🌟杞"
    assert norm.chars[4].clause == norm.chars[3].clause + 1


@pytest.mark.parametrize(
    ("title", "right", "form"),
    [
        ("宁夏枸杞 特级 500g", "ningxia-goji", "exact"),
        ("寧夏枸杞 特級頭茬", "ningxia-goji", "traditional"),
        ("宁-夏-枸-杞 大颗粒", "ningxia-goji", "separators"),
        ("宁🌟夏枸杞 当季", "ningxia-goji", "separators"),
        ("宁\u200b夏枸杞 当季", "ningxia-goji", "separators"),
        ("柠夏枸杞 特级", "ningxia-goji", "homophone"),
        ("宁夏苟杞 头茬", "ningxia-goji", "homophone"),
        ("宇夏枸杞 头茬", "ningxia-goji", "shape"),
        ("ning xia gou qi 头茬", "ningxia-goji", "pinyin"),
        ("ＮＩＮＧＸＩＡ ＧＯＵＱＩ 特级", "ningxia-goji", "pinyin"),
        ("Ningxia Wolfberry 1kg", "ningxia-goji", "translation"),
        ("宁夏中宁特级枸杞 500g", "ningxia-goji", "split"),
        ("盐池谈羊 羊排", "yanchi-tan-sheep", "homophone"),
        ("盐地滩羊 羊排", "yanchi-tan-sheep", "shape"),
        ("盐池 正宗 滩羊肉 2斤", "yanchi-tan-sheep", "split"),
        ("Yanchi Tan Sheep lamb rack", "yanchi-tan-sheep", "translation"),
        ("yanchi tanyang 羊排", "yanchi-tan-sheep", "pinyin"),
        ("贺兰山东路葡萄酒 干红", "helan-mountain-east-wine", "homophone"),
        ("贺蓝山东路葡萄酒 干红", "helan-mountain-east-wine", "homophone"),
        ("贺兰山东麓 赤霞珠 干红", "helan-mountain-east-wine", "split"),
        ("helanshan donglu putaojiu 750ml", "helan-mountain-east-wine", "pinyin"),
        ("Helan Mountain East Foothill Wine 2021", "helan-mountain-east-wine", "translation"),
    ],
)
def test_disguised_and_plain_references_are_found(
    matcher: Matcher, title: str, right: str, form: str
) -> None:
    found = refs(matcher, title)
    assert right in found, f"{title} should refer to {right}"
    assert form in found[right]


@pytest.mark.parametrize(
    ("title", "evoking"),
    [
        ("宁夏枸杞同款 红枸杞", "同款"),
        ("仿盐池滩羊 羔羊肉卷", "仿"),
        ("贺兰山东麓风格干红 750ml", "风格"),
        ("媲美宁夏枸杞的柴达木枸杞", "媲美"),
        ("盐池滩羊风味 羊排", "风味"),
    ],
)
def test_evoking_words_are_rule_1_5(matcher: Matcher, title: str, evoking: str) -> None:
    found = matcher.referred(title)
    assert found, title
    assert any(r.evoking == evoking for m in found.values() for r in m.references)


@pytest.mark.parametrize(
    "title",
    [
        "青海枸杞 柴达木 头茬 500g",
        "宁杞7号 鲜枸杞 当季鲜果",
        "宁杞7号枸杞 特级大颗粒",
        "滩羊 带骨羊排 约4斤",
        "滩羊肉 新鲜羊排 现杀",
        "内蒙古羊肉 锡林郭勒羔羊",
        "烟台干红 蓬莱产区 赤霞珠",
        "宁夏枸杞苗 宁杞7号 嫁接苗",
        "枸杞收纳罐 玻璃密封罐 装宁夏枸杞专用",
        "养生壶 煮宁夏枸杞红枣茶",
        "宁夏枸杞栽培与病虫害防治 农业技术图书",
        "盐池滩羊毛被 冬季加厚",
        "盐池滩羊 二毛皮 皮草坎肩",
        "贺兰山东麓葡萄汁 100%纯葡萄汁",
        "贺兰山东麓 鲜食葡萄 红提",
        "水晶醒酒器 贺兰山东麓葡萄酒专用",
        "宁夏贺兰山东麓葡萄酒产区地图 挂图",
        "盐池甘草 野生甘草片 宁夏特产",
        "宁夏大米 珍珠米 贺兰县",
        "盛夏枸杞茶饮 清凉",
    ],
)
def test_non_references_are_left_alone(matcher: Matcher, title: str) -> None:
    assert matcher.referred(title) == {}, title


def test_packaging_is_not_a_container(matcher: Matcher) -> None:
    assert "ningxia-goji" in matcher.referred("宁夏枸杞 特优级 玻璃罐装 380g")


def test_gift_accessory_does_not_veto(matcher: Matcher) -> None:
    assert "helan-mountain-east-wine" in matcher.referred("贺兰山东麓葡萄酒 干红 送醒酒器")


def test_reference_carries_span_and_reason(matcher: Matcher) -> None:
    title = "特价 柠夏枸杞 500g"
    ref = matcher.referred(title)["ningxia-goji"].best
    assert (ref.field, ref.start, ref.end) == ("title", 3, 7)
    assert title[ref.start : ref.end] == ref.text == "柠夏枸杞"
    assert "柠→宁" in ref.detail
    reason = ref.describe()
    assert "同音" in reason and "homophone" in reason


def test_description_is_read_too(matcher: Matcher) -> None:
    found = matcher.referred("羔羊腿 整条", "口感媲美盐池滩羊")
    assert found["yanchi-tan-sheep"].best.field == "description"


def test_two_changed_characters_only_for_long_names(matcher: Matcher) -> None:
    assert matcher.referred("柠夏苟杞 500g") == {}  # two changes in a four-character name
    assert "helan-mountain-east-wine" in matcher.referred("鹤蓝山东麓葡萄酒")  # two of eight
    assert matcher.referred("鹤蓝山冬麓葡萄酒") == {}  # three of eight


def test_variants() -> None:
    assert fold_syllable("zhang") == "zan"
    assert fold_syllable("ling") == "nin"
    assert substitution("宁", "ning", "柠") == "homophone"
    assert substitution("宁", "ning", "灵") == "near_homophone"
    assert substitution("池", "chi", "地") == "shape"
    assert substitution("夏", "xia", "西") is None


def test_unicode_lookalikes_in_latin_forms(matcher: Matcher) -> None:
    # Cyrillic а and о, Greek Ν: they read as Latin but are other letters.
    assert "ningxia-goji" in matcher.referred("Ningxi\u0430 G\u043eji 500g")
    assert "ningxia-goji" in matcher.referred("\u039dingxia wolfberry")
