"""Property tests: a disguised protected name is still caught; unrelated titles are not.

Disguises are drawn from the ways LEAD_RULES rule 1 lists: traditional
characters, separators or emoji inside the name, one homophone or
similar-shaped character (two in the eight-character wine name), spaced or
upper-case pinyin, full-width letters, and the listed translations.
"""

from __future__ import annotations

from functools import cache

import opencc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.text.matcher import Matcher
from monitor.text.variants import name_readings, readings, shape_groups
from monitor.watchlist import Right, load_rights

from .conftest import WATCHLISTS

RIGHTS = {r.id: r for r in load_rights(WATCHLISTS)}
MATCHER = Matcher(RIGHTS.values())
S2T = opencc.OpenCC("s2t")
SEPARATORS = ["-", "·", ".", "*", "_", "~", "/", "🌟", "✨", "🍇", "🐑", "\u200b", "\u200d", "｜"]
NOISE = ["特级", "头茬", "包邮", "新货", "礼盒装", "500g", "1kg", "750ml*2", "现杀", "冷链",
         "正品", "官方", "送礼", "批发", "大颗粒", "免洗", "清真", "2斤装", "顺丰"]
UNRELATED = ["枸杞", "枸杞子", "红枸杞", "滩羊", "羊肉", "羊排", "羔羊肉", "葡萄酒", "干红",
             "红酒", "赤霞珠", "青海", "柴达木", "新疆", "精河", "内蒙古", "烟台", "宁杞7号",
             "宁杞1号", "特级", "头茬", "500g", "包邮", "礼盒", "手机壳", "蓝牙耳机", "保温杯",
             "大米", "红枣", "羊毛衫", "甘草", "西瓜", "蜂蜜", "法国", "波尔多", "进口"]


@cache
def _common_chars() -> tuple[str, ...]:
    """Level-1 GB2312 characters: the ones sellers actually type."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return tuple(out)


@cache
def stand_ins(right_id: str) -> dict[int, tuple[str, ...]]:
    """For each position of a name: characters that sound (tones dropped) or look the same."""
    name = RIGHTS[right_id].name
    out: dict[int, tuple[str, ...]] = {}
    for i, (ch, reading) in enumerate(zip(name, name_readings(name), strict=True)):
        same_sound = [c for c in _common_chars() if c != ch and reading in readings(c)]
        looks = sorted(shape_groups().get(ch, ()))
        out[i] = tuple(same_sound[:40] + looks)
    return out


def _wrap(draw: st.DrawFn, core: str) -> str:
    before = draw(st.lists(st.sampled_from(NOISE), max_size=2))
    after = draw(st.lists(st.sampled_from(NOISE), max_size=3))
    return " ".join([*before, core, *after])


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, str]:
    right: Right = RIGHTS[draw(st.sampled_from(sorted(RIGHTS)))]
    name = right.name
    how = draw(st.sampled_from(["traditional", "separators", "stand_in", "pinyin",
                                "fullwidth", "translation", "mixed"]))
    if how == "traditional":
        core = S2T.convert(name)
    elif how == "separators":
        seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(name) - 1,
                             max_size=len(name) - 1))
        core = name[0] + "".join(s + c for s, c in zip(seps, name[1:], strict=True))
    elif how in ("stand_in", "mixed"):
        table = stand_ins(right.id)
        budget = 2 if len(name) > 4 else 1
        spots = draw(st.lists(st.sampled_from(sorted(i for i in table if table[i])),
                              min_size=1, max_size=budget, unique=True))
        chars = list(name)
        for i in spots:
            chars[i] = draw(st.sampled_from(table[i]))
        core = "".join(chars)
        if how == "mixed":  # a stand-in character, written traditional, with a separator
            core = S2T.convert(core[:2]) + draw(st.sampled_from(SEPARATORS)) + core[2:]
    elif how == "pinyin":
        syllables = name_readings(name)
        glue = draw(st.sampled_from(["", " ", "  "]))
        core = glue.join(syllables)
        if draw(st.booleans()):
            core = core.upper()
    elif how == "fullwidth":
        core = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c
                       for c in draw(st.sampled_from(right.other_names)).upper())
    else:
        core = draw(st.sampled_from(right.other_names))
        if draw(st.booleans()):
            core = core.title()
    return right.id, _wrap(draw, core)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(disguised())
def test_disguised_names_are_caught(case: tuple[str, str]) -> None:
    right_id, title = case
    found = MATCHER.referred(title)
    assert right_id in found, title


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(UNRELATED), min_size=1, max_size=6), st.sampled_from([" ", ""]))
def test_unrelated_titles_are_left_alone(words: list[str], glue: str) -> None:
    title = glue.join(words)
    assert MATCHER.referred(title) == {}, title
