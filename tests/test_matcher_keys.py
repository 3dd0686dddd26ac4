"""How the matcher finds names: every allowed disguise of a name is an automaton key.

The matcher puts each name, and each one-character change of it (or of its
three- or four-character windows, for longer names), into its automaton. These
tests check that this is exactly rule 1.2 of LEAD_RULES.md: the keys are the
changes `substitution` accepts and any allowed disguise contains a key.
"""

from __future__ import annotations

import random
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.text.matcher import Matcher, _key_windows, _max_subs
from monitor.text.normalize import normalize
from monitor.text.variants import name_readings, stand_ins, substitution
from monitor.watchlist import Right, load_rights

from .conftest import WATCHLISTS

GIS = load_rights(WATCHLISTS)


@pytest.mark.parametrize("right", GIS, ids=lambda r: r.id)
def test_stand_ins_are_exactly_the_accepted_changes(right: Right) -> None:
    rng = random.Random(3)
    sample = [chr(c) for c in rng.sample(range(0x4E00, 0x9FA6), 3000)]
    for ch, reading in zip(right.name, name_readings(right.name), strict=True):
        found = stand_ins(ch, reading)
        assert found, f"no stand-ins for {ch}"
        for other, kind in found.items():
            assert substitution(ch, reading, other) == kind
        for other in sample:
            kind = substitution(ch, reading, other)
            if kind not in (None, "exact"):
                assert found.get(other) == kind, (ch, other, kind)


@given(
    length=st.integers(min_value=2, max_value=14),
    data=st.data(),
)
def test_every_allowed_disguise_contains_a_key_window(length: int, data: st.DataObject) -> None:
    """Whatever positions of a name are changed (as many as allowed), a key window has ≤ 1."""
    allowed = _max_subs(length)
    changed = set(data.draw(st.sets(st.integers(0, length - 1), max_size=allowed)))
    windows = _key_windows(length)
    assert any(
        len(changed & set(range(offset, offset + size))) <= (1 if allowed else 0)
        for offset, size in windows
    )
    assert all(offset >= 0 and offset + size <= length for offset, size in windows)


def test_a_five_character_name_changed_twice_apart_is_found() -> None:
    """Two changes with one kept character between them leave no kept pair (rule 1.2 allows it)."""
    right = Right(id="tm-jinsha", kind="trademark", name="金沙湾酒庄", product_terms=("葡萄酒",))
    matcher = Matcher([right])
    found = matcher.referred("金砂湾久庄 干红葡萄酒 750ml")
    assert "tm-jinsha" in found
    ref = found["tm-jinsha"].best
    assert ref.form == "homophone" and ref.text == "金砂湾久庄"
    assert "砂→沙" in ref.detail and "久→酒" in ref.detail
    # a third change is one too many
    assert matcher.referred("金砂湾久桩 干红葡萄酒") == {}


def test_every_two_change_disguise_of_the_wine_name_is_found() -> None:
    wine = next(r for r in GIS if r.id == "helan-mountain-east-wine")
    matcher = Matcher([wine])
    readings = name_readings(wine.name)
    for i, j in combinations(range(len(wine.name)), 2):
        text = list(wine.name)
        text[i] = next(iter(stand_ins(wine.name[i], readings[i])))
        text[j] = next(iter(stand_ins(wine.name[j], readings[j])))
        title = "特价 " + "".join(text) + " 干红"
        assert wine.id in matcher.referred(title), title


def test_a_latin_run_an_exact_form_explains_is_not_fuzzy_matched_to_another_right() -> None:
    """'mai rui yuan shang' is brand B's pinyin, and not brand A's 'rui yuan sheng' misspelt."""
    brand_a = Right(id="tm-a", kind="trademark", name="瑞源生", other_names=("rui yuan sheng",))
    brand_b = Right(id="tm-b", kind="trademark", name="麦瑞源上",
                    other_names=("mai rui yuan shang",))
    matcher = Matcher([brand_a, brand_b])
    assert set(matcher.referred("mai rui yuan shang 礼盒")) == {"tm-b"}
    # without brand B's name there, the near miss is brand A's, found by rapidfuzz
    assert "tm-a" in matcher.referred("rui yuan shang 礼盒")


def test_spans_are_right_when_a_name_appears_twice_or_characters_expand() -> None:
    matcher = Matcher(GIS)
    title = "寧夏枸杞 宁夏枸杞 ５００㎏"
    refs = sorted(matcher.referred(title)["ningxia-goji"].references, key=lambda r: r.start)
    assert [(r.form, r.text, r.start, r.end) for r in refs] == [
        ("traditional", "寧夏枸杞", 0, 4),
        ("exact", "宁夏枸杞", 5, 9),
    ]
    norm = normalize("宁夏枸杞㎏ 宁夏枸杞")
    assert norm.text == "宁夏枸杞kg宁夏枸杞"
    assert norm.span(4, 6) == (4, 5) and norm.span(6, 10) == (6, 10)
    assert norm.verbatim_span(6, 10) is None  # the name occurs twice: positions decide
