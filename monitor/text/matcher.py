"""Does a listing refer to a protected right? (rule 1 of LEAD_RULES.md)

A trigger automaton (Aho-Corasick, ahocorasick-rs) holds everything that can
start a reference: each protected name and every allowed disguise of it (each
character swapped for a homophone, near homophone or similar shape: the
whole name up to four characters, its three- or four-character windows when
longer, see `_key_windows`), the Latin forms (translations and pinyin) and the
place part. A text that hits nothing is done after that one pass, the usual
case. A hit is then worked out where it stands:

- a key of a long name fixes the name-length window, which is compared
  character by character, at most two differences, each a homophone, near
  homophone or similar shape (`variants.substitution`);
- a place part followed closely, in the same clause, by a product term of the
  right's class, with only descriptive words between, is a place+product
  reference (rule 1.4);
- an evoking word touching a reference (仿, 媲美, 同款, 风味, 型, ...) marks
  rule 1.5;
- an excluded term in the title (a seedling, a jar, a map, wool) vetoes the
  right, since the product is outside its class.

Product, excluded and cultivar terms sit in a second automaton, run only when
a woken right needs them. Latin text that no Latin form explains exactly is
tried with rapidfuzz, which also gives the span. Every reference keeps its
field, span, form and score so that the lead can say exactly why it is one.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from ahocorasick_rs import AhoCorasick
from rapidfuzz import fuzz, process

from monitor.text.normalize import Normalized, fold, normalize_plain
from monitor.text.variants import name_readings, stand_ins, substitution
from monitor.watchlist import Right

EVOKING_AFTER = ("同款", "风味", "口味", "风格", "平替", "工艺", "类", "型", "式")
EVOKING_BEFORE = ("仿", "媲美", "类", "高仿")
GIFT_WORDS = ("送", "赠", "附赠", "加送", "赠送")
# "玻璃罐装" is goji packed in a glass jar, not a jar: a term followed by 装 is packaging.
PACKAGING_SUFFIX = "装"
# Place names that make a gap non-descriptive: "宁夏 发 青海枸杞" is not 宁夏枸杞.
OTHER_PLACES = (
    "青海", "柴达木", "新疆", "精河", "甘肃", "内蒙", "河北", "山东", "烟台", "蓬莱",
    "云南", "河西", "西藏", "陕西", "四川", "法国", "波尔多", "澳洲", "智利", "进口",
)
# Product words of other goods: "宁夏大米 珍珠米 新米 头茬" names rice, not goji.
OTHER_PRODUCTS = (
    "米", "枣", "瓜", "甘草", "蜂蜜", "小米", "土豆", "马铃薯", "苹果", "葡萄干", "茶叶",
    "牛肉", "猪肉", "鸡", "鸭", "鱼", "虾", "面粉", "挂面", "菜籽油", "胡麻油", "发菜",
    "羊毛", "羊绒", "羊皮", "石", "砚", "门票", "地图",
)
MAX_GAP = 10  # normalized characters between a place part and a product term
MIN_FUZZY_LATIN = 10  # shortest Latin form tried with rapidfuzz
_LATIN_RUN = re.compile(r"[a-z]{4}")  # fuzzy Latin matching only where there are words
FUZZY_CUTOFF = 90.0

FORMS: dict[str, tuple[str, str]] = {
    "exact": ("名称一致", "exact name"),
    "traditional": ("繁体字", "traditional characters"),
    "separators": ("名称中插入符号", "separators or emoji inside the name"),
    "homophone": ("同音/近音字", "homophone character"),
    "shape": ("形近字", "similar-shaped character"),
    "pinyin": ("拼音", "pinyin of the name"),
    "translation": ("外文译名", "listed translation"),
    "split": ("产地+品类", "place and product term together"),
    "special_mark": ("图片含专用标志", "special mark in image"),
}
DISGUISES = frozenset({"traditional", "separators", "homophone", "shape"})
_BASE_SCORE = {
    "exact": 1.0,
    "traditional": 0.97,
    "separators": 0.97,
    "pinyin": 0.95,
    "translation": 0.95,
    "homophone": 0.9,
    "shape": 0.9,
    "split": 0.85,
    "special_mark": 0.9,
}
_SUB_LABEL = {"homophone": "同音", "near_homophone": "近音", "shape": "形近"}


class Reference(NamedTuple):
    """One place in a listing where it refers to a right.

    A named tuple rather than a dataclass: one is made for every reference in
    every listing, and a tuple is the cheapest immutable record Python has.
    """

    right_id: str
    form: str
    field: str  # "title" or "description"
    start: int  # offsets in the original field text
    end: int
    text: str
    score: float
    detail: str = ""
    evoking: str = ""

    @property
    def disguised(self) -> bool:
        """Rule 3: a disguised name or an evoking word shows intent."""
        return self.form in DISGUISES or bool(self.evoking)

    def describe(self) -> str:
        """One reason line, Chinese then English, for an officer."""
        zh, en = FORMS[self.form]
        if self.field == "image":
            return f"{zh} {en}: {self.text}" + (f" [{self.detail}]" if self.detail else "")
        where = "标题 title" if self.field == "title" else "描述 description"
        line = f"{zh} {en}: “{self.text}” ({where} {self.start}-{self.end})"
        if self.detail:
            line += f" [{self.detail}]"
        if self.evoking:
            line += f"; 关联用语 evoking word “{self.evoking}” (rule 1.5)"
        return line


@dataclass
class RightMatch:
    """What the matcher found for one right in one listing."""

    right_id: str
    references: list[Reference] = field(default_factory=list)
    vetoed_by: str = ""

    @property
    def refers(self) -> bool:
        return bool(self.references) and not self.vetoed_by

    @property
    def best(self) -> Reference:
        return max(self.references, key=lambda r: r.score)


# What a trigger hit means: entries (kind, right index, extra).
_Trigger = tuple[tuple[str, int, object], ...]
# What a context hit means: (entries by right index, does it end a descriptive gap?)
_Context = tuple[dict[int, tuple[tuple[str, object], ...]], bool]
_Hits = list[tuple[int, int, object]]  # (start, length, extra)
_ContextHits = list[tuple[int, int, _Context]]  # (start, end, meaning)


def _passive(raw: _ContextHits, index: int) -> dict[str, _Hits]:
    """The product, excluded and cultivar hits of one right, by kind."""
    out: dict[str, _Hits] = {}
    for start, end, (passive, _) in raw:
        for kind, extra in passive.get(index, ()):
            out.setdefault(kind, []).append((start, end - start, extra))
    return out


class _FieldScan(Normalized):
    """One field's normalized text, and its context hits, worked out once and only if asked.

    Product, excluded and cultivar terms matter only for some rights (those
    with cultivars or exclusions, or found by their place), so the second
    automaton pass is made only when one of those is woken up.
    """

    __slots__ = ("_matcher", "_context", "_passives")

    def __init__(self, matcher: Matcher, original: str, text: str):
        super().__init__(original, text)
        self._matcher = matcher
        self._context: _ContextHits | None = None
        self._passives: dict[int, dict[str, _Hits]] = {}

    @property
    def context(self) -> _ContextHits:
        if self._context is None:
            self._context = self._matcher._context_hits(self.text)
        return self._context

    def passive(self, index: int) -> dict[str, _Hits]:
        """The product, excluded and cultivar hits of one right, by kind."""
        got = self._passives.get(index)
        if got is None:
            got = self._passives[index] = _passive(self.context, index)
        return got

    def boundaries(self) -> list[int]:
        """Where another place or product is named (a place+product gap stops there)."""
        return [start for start, _, (_, boundary) in self.context if boundary]


@dataclass(frozen=True)
class _CompiledRight:
    right: Right
    name: str
    readings: tuple[str, ...]
    max_subs: int


def _max_subs(length: int) -> int:
    if length >= 5:
        return 2
    return 1 if length == 4 else 0


def _key_windows(length: int) -> list[tuple[int, int]]:
    """(offset, size) of the parts of a name whose one-change forms are automaton keys.

    Chosen so that any allowed disguise of the whole name contains one of them
    with at most one change: the whole name up to four characters (at most one
    change allowed), every three characters of a name of five to seven, and
    every four of a longer one (two changes among eight or more characters
    always leave four in a row with at most one). Shorter than two characters
    is not a name a title can be said to use.
    """
    if length < 2:
        return []
    if length <= 4:
        return [(0, length)]
    size = 4 if length >= 8 else 3
    return [(offset, size) for offset in range(length - size + 1)]


def _latin_forms(right: Right) -> dict[str, str]:
    """Normalized Latin form → 'pinyin' or 'translation'."""
    pinyin = "".join(name_readings(right.name))
    forms = {pinyin: "pinyin"} if len(pinyin) >= 4 else {}
    for other in right.other_names:
        form = normalize_plain(other)
        if form and form.isascii() and form not in forms:
            forms[form] = "pinyin" if form == pinyin else "translation"
    return forms


def _unexplained_latin(text: str, hits: dict[int, dict[str, _Hits]]) -> bool:
    """Is there a run of Latin letters left once the exactly found Latin forms are taken out?

    Only such a run can hold a Latin form written approximately, so only then
    is rapidfuzz asked (it is the dearest step of the matcher).
    """
    spans = sorted((s, s + n) for kinds in hits.values() for s, n, _ in kinds.get("latin", ()))
    at = 0
    for start, end in spans:  # search between the exact forms (endpos ends a search there)
        if _LATIN_RUN.search(text, at, start):
            return True
        at = max(at, end)
    return _LATIN_RUN.search(text, at) is not None


@contextmanager
def static_data_frozen() -> Iterator[None]:
    """Keep what is loaded so far out of the cyclic garbage collector's sight meanwhile.

    pypinyin's phrase dictionary alone is some 200,000 lists, and a built
    matcher adds its automata's tables; every full collection during a day's
    matching would walk them all again, for nothing. `gc.freeze` sets them
    aside (memory freed by reference counting is still freed); they are given
    back to the collector afterwards, so that the process ends cleanly.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Matcher:
    """Finds references to a set of rights in listing titles and descriptions."""

    def __init__(self, rights: Iterable[Right]):
        self.rights = [self._compile(r) for r in rights]
        self._vetoable = {c.right.id: i for i, c in enumerate(self.rights)
                          if c.right.excluded_terms}
        self._latin: list[dict[str, str]] = [_latin_forms(c.right) for c in self.rights]
        triggers: dict[str, list[tuple[str, int, object]]] = {}
        context: dict[str, list[tuple[str, int, object]]] = {}

        def add(table: dict[str, list[tuple[str, int, object]]], key: str, kind: str,
                index: int, extra: object = None) -> None:
            if key:
                table.setdefault(key, []).append((kind, index, extra))

        for i, c in enumerate(self.rights):
            for key, extra in self._name_keys(c):
                add(triggers, key, "name", i, extra)
            for form, kind in self._latin[i].items():
                add(triggers, form, "latin", i, kind)
            add(triggers, normalize_plain(c.right.place), "place", i)
            for term in c.right.product_terms:
                add(context, normalize_plain(term), "product", i)
            for term in c.right.excluded_terms:
                add(context, normalize_plain(term), "excluded", i)
            for term in c.right.cultivars:
                add(context, normalize_plain(term), "cultivar", i)
        for word in OTHER_PLACES + OTHER_PRODUCTS:
            add(context, word, "not_descriptive", -1)

        self._trigger_keys = list(triggers)
        self._trigger_values: list[_Trigger] = [tuple(triggers[k]) for k in self._trigger_keys]
        self._triggers = AhoCorasick(self._trigger_keys)
        # Product, excluded and cultivar terms (shared by many rights, common in
        # titles) are looked for only in a text where a trigger woke a right up.
        self._context_values: list[_Context] = []
        for values in context.values():
            passive: dict[int, list[tuple[str, object]]] = {}
            for kind, index, extra in values:
                if index >= 0:
                    passive.setdefault(index, []).append((kind, extra))
            boundary = any(index < 0 for _, index, _ in values)
            self._context_values.append(({i: tuple(v) for i, v in passive.items()}, boundary))
        self._context = AhoCorasick(list(context))
        self._fuzzy_owners = [
            (i, form, kind)
            for i, forms in enumerate(self._latin)
            for form, kind in forms.items()
            if len(form) >= MIN_FUZZY_LATIN
        ]
        self._fuzzy_forms = [form for _, form, _ in self._fuzzy_owners]

    @staticmethod
    def _compile(right: Right) -> _CompiledRight:
        name = normalize_plain(right.name)
        return _CompiledRight(
            right=right,
            name=name,
            readings=tuple(name_readings(name)),
            max_subs=_max_subs(len(name)),
        )

    @staticmethod
    def _name_keys(
        c: _CompiledRight,
    ) -> Iterable[tuple[str, tuple[int, tuple[tuple[str, str, str], ...]]]]:
        """Automaton keys for a name: each key window, plain and with one character changed.

        The extra value is (offset of the window in the name, the change as
        ((text character, name character, kind),) or ()).
        """
        for offset, size in _key_windows(len(c.name)):
            window = c.name[offset : offset + size]
            yield window, (offset, ())
            if not c.max_subs:
                continue
            for k in range(size):
                at = offset + k
                for ch, kind in stand_ins(c.name[at], c.readings[at]).items():
                    yield window[:k] + ch + window[k + 1 :], (offset, ((ch, c.name[at], kind),))

    # -- public -------------------------------------------------------------

    def match(self, title: str, description: str = "") -> dict[str, RightMatch]:
        """Every right the listing refers to (vetoed rights included, with the veto)."""
        found: dict[str, RightMatch] = {}
        scan = self._field("title", title, found) if title else None
        if description:
            self._field("description", description, found)
        if found and title:
            for right_id, right_match in found.items():
                index = self._vetoable.get(right_id)
                if index is None:  # no excluded terms
                    continue
                if scan is None:  # found in the description only
                    scan = _FieldScan(self, title, fold(title))
                excluded = scan.passive(index).get("excluded")
                if excluded:
                    right_match.vetoed_by = self._veto(scan, excluded)
        return found

    def referred(self, title: str, description: str = "") -> dict[str, RightMatch]:
        """Only the rights the listing really refers to (rule 1, exclusions applied)."""
        found = self.match(title, description)
        if not found:
            return found
        return {k: v for k, v in found.items() if v.references and not v.vetoed_by}

    # -- scanning -----------------------------------------------------------

    def _context_hits(self, text: str) -> _ContextHits:
        found = self._context.find_matches_as_indexes(text, overlapping=True)
        values = self._context_values
        return [(start, end, values[key]) for key, start, end in found]

    def _field(
        self, field_name: str, text: str, found: dict[str, RightMatch]
    ) -> _FieldScan | None:
        """Find the references in one field, adding them to `found`.

        Returns the field's scan (the title's is needed for vetoes), or None
        when nothing in it could start a reference: the common case, settled by
        one `str.translate`, one automaton pass and one regex search.
        """
        folded = fold(text)
        triggers = self._triggers.find_matches_as_indexes(folded, overlapping=True)
        latin = _LATIN_RUN.search(folded) is not None
        if not triggers and not latin:
            return None
        norm = scan = _FieldScan(self, text, folded)
        hits: dict[int, dict[str, _Hits]] = {}
        values = self._trigger_values
        for key, start, end in triggers:
            for kind, index, extra in values[key]:
                hits.setdefault(index, {}).setdefault(kind, []).append((start, end - start, extra))
        fuzzy = {}
        if latin and _unexplained_latin(folded, hits):
            fuzzy = self._fuzzy_latin(folded, hits)
        woken = hits.keys() | fuzzy.keys() if fuzzy else hits.keys()
        for index in sorted(woken) if len(woken) > 1 else woken:
            c = self.rights[index]
            kinds = hits.get(index, {})
            refs: list[Reference] = []
            spans: list[tuple[int, int]] = []  # normalized spans of the names found
            if "name" in kinds:
                cultivars = scan.passive(index).get("cultivar") if c.right.cultivars else None
                for s, subs in self._names(c, norm, kinds["name"], cultivars):
                    refs.append(self._name_ref(c, field_name, norm, s, subs))
                    spans.append((s, s + len(c.name)))
            if "latin" in kinds:
                refs += self._latin_refs(index, field_name, norm, kinds["latin"])
            if index in fuzzy:
                refs.append(self._fuzzy_ref(index, field_name, norm, *fuzzy[index]))
            if "place" in kinds:
                products = scan.passive(index).get("product")
                if products:
                    refs += self._splits(c, field_name, norm, kinds["place"], products, refs,
                                         spans, scan.boundaries())
            if refs:
                right_match = found.get(c.right.id)
                if right_match is None:
                    found[c.right.id] = RightMatch(c.right.id, refs)
                else:
                    right_match.references.extend(refs)
        return scan

    def _fuzzy_latin(
        self, text: str, hits: dict[int, dict[str, _Hits]]
    ) -> dict[int, tuple[str, str]]:
        """Latin forms found only approximately: right index → (form, kind).

        One rapidfuzz call scores every long Latin form of every right against
        the text; rights already found by an exact Latin form are skipped.
        """
        found: dict[int, tuple[str, str]] = {}
        scored = process.extract(text, self._fuzzy_forms, scorer=fuzz.partial_ratio,
                                 score_cutoff=FUZZY_CUTOFF, limit=None)
        for _, _, position in scored:
            index, form, kind = self._fuzzy_owners[position]
            if index in found or "latin" in hits.get(index, {}):
                continue
            found[index] = (form, kind)
        return found

    def _evoking(self, text: str, start: int, end: int) -> str:
        before = text[max(0, start - 2) : start]
        after = text[end : end + 2]
        if not before.endswith(EVOKING_BEFORE) and not after.startswith(EVOKING_AFTER):
            return ""
        for word in EVOKING_BEFORE:
            if before.endswith(word):
                return word
        for word in EVOKING_AFTER:
            if after.startswith(word):
                return word
        return ""

    def _names(
        self,
        c: _CompiledRight,
        norm: Normalized,
        keys: _Hits,
        cultivars: _Hits | None,
    ) -> list[tuple[int, tuple[tuple[str, str, str], ...]]]:
        """Where the name stands, plain or disguised, from the keys of it that were hit.

        Each is (normalized start, changed characters); overlapping candidates
        keep the one with fewer changes, then the earlier.
        """
        m = len(c.name)
        if len(keys) == 1 and not cultivars and m <= 4:  # the usual case: one plain hit
            pos, _, (offset, change) = keys[0]  # type: ignore[misc]
            s = pos - offset
            return [(s, change)] if s >= 0 and s + m <= len(norm.text) else []
        masked = [(s, s + n) for s, n, _ in cultivars or ()]
        candidates: list[tuple[int, tuple[tuple[str, str, str], ...]]] = []
        tried: set[int] = set()
        for pos, _, extra in keys:
            offset, change = extra  # type: ignore[misc]
            s = pos - offset
            if s in tried or s < 0 or s + m > len(norm.text):
                continue
            tried.add(s)
            if masked and any(a < s + m and s < b for a, b in masked):
                continue
            if m <= 4:  # the key was the whole name: its change is the only one
                candidates.append((s, change))
                continue
            verified = self._changes(c, norm.text[s : s + m])
            if verified is not None:
                candidates.append((s, verified))
        if len(candidates) <= 1:
            return candidates
        chosen: list[tuple[int, tuple[tuple[str, str, str], ...]]] = []
        for s, subs in sorted(candidates, key=lambda t: (len(t[1]), t[0])):
            if not any(a < s + m and s < a + m for a, _ in chosen):
                chosen.append((s, subs))
        return chosen

    @staticmethod
    def _changes(c: _CompiledRight, window: str) -> tuple[tuple[str, str, str], ...] | None:
        """The changed characters of a name-length window, or None if it is not the name."""
        subs: list[tuple[str, str, str]] = []
        for ch, name_ch, reading in zip(window, c.name, c.readings, strict=True):
            kind = substitution(name_ch, reading, ch)
            if kind is None:
                return None
            if kind != "exact":
                subs.append((ch, name_ch, kind))
        return tuple(subs) if len(subs) <= c.max_subs else None

    def _name_ref(
        self,
        c: _CompiledRight,
        field_name: str,
        norm: Normalized,
        s: int,
        subs: tuple[tuple[str, str, str], ...],
    ) -> Reference:
        m = len(c.name)
        detail = ""
        span = None if subs else norm.verbatim_span(s, s + m)
        if span is not None:
            form = "exact"
        elif subs:
            form = "homophone" if any(k != "shape" for *_, k in subs) else "shape"
            detail = ", ".join(f"{t}→{n} {_SUB_LABEL[k]} {k.replace('_', ' ')}" for t, n, k in subs)
        elif norm.converted(s, s + m):
            form = "traditional"
        else:
            gaps = norm.gaps(s, s + m)
            spaced = "separator" in gaps or gaps.count("space") >= 2
            form = "separators" if spaced else "exact"
        score = _BASE_SCORE[form]
        if len(subs) > 1:
            score = round(score - 0.05 * (len(subs) - 1), 3)
        start, end = span or norm.span(s, s + m)
        return Reference(c.right.id, form, field_name, start, end, norm.original[start:end],
                         score, detail, self._evoking(norm.text, s, s + m))

    def _latin_refs(
        self, index: int, field_name: str, norm: Normalized, exact: list[tuple[int, int, object]]
    ) -> list[Reference]:
        right_id = self.rights[index].right.id
        refs: list[Reference] = []
        for s, n, kind in exact:
            start, end = norm.span(s, s + n)
            refs.append(Reference(right_id, str(kind), field_name, start, end,
                                  norm.original[start:end], _BASE_SCORE[str(kind)], "",
                                  self._evoking(norm.text, s, s + n)))
        return refs

    def _fuzzy_ref(
        self, index: int, field_name: str, norm: Normalized, form: str, kind: str
    ) -> Reference:
        c = self.rights[index]
        result = fuzz.partial_ratio_alignment(form, norm.text)
        s, e = result.dest_start, max(result.dest_end, result.dest_start + 1)
        start, end = norm.span(s, e)
        return Reference(c.right.id, kind, field_name, start, end, norm.original[start:end],
                         round(_BASE_SCORE[kind] * result.score / 100, 3),
                         detail=f"rapidfuzz {result.score:.0f}",
                         evoking=self._evoking(norm.text, s, e))

    def _splits(
        self,
        c: _CompiledRight,
        field_name: str,
        norm: Normalized,
        places: list[tuple[int, int, object]],
        products: list[tuple[int, int, object]],
        names: list[Reference],
        spans: list[tuple[int, int]],
        other_places: list[int],
    ) -> list[Reference]:
        """Place then product term of the class (rule 1.4), unless inside a name found."""
        products = sorted(products)
        name_spans: list[tuple[int, int]] | None = None
        refs: list[Reference] = []
        for p, plen, _ in places:
            after = p + plen
            for q, qlen, _ in products:
                if q < after:
                    continue
                if any(a < q + qlen and p < b for a, b in spans):
                    break  # the place and product are part of a name (normalized spans)
                if q - after > MAX_GAP or not norm.same_clause(p, q):
                    break
                if any(after <= o < q for o in other_places):
                    break
                start, end = norm.span(p, q + qlen)
                if name_spans is None:
                    name_spans = [(r.start, r.end) for r in names if r.field == field_name]
                if any(a < end and start < b for a, b in name_spans):
                    break
                gap = norm.text[after:q]
                evoking = self._evoking(norm.text, p, after)
                if not evoking:
                    evoking = next((w for w in EVOKING_AFTER if gap.startswith(w)), "")
                refs.append(
                    Reference(c.right.id, "split", field_name, start, end,
                              norm.original[start:end], _BASE_SCORE["split"],
                              detail=f"{norm.text[p:after]}+{norm.text[q:q + qlen]}",
                              evoking=evoking)
                )
                break
        return refs

    @staticmethod
    def _veto(norm: Normalized, excluded: list[tuple[int, int, object]]) -> str:
        for s, n, _ in excluded:
            before = norm.text[max(0, s - 2) : s]
            if any(before.endswith(w) for w in GIFT_WORDS):
                continue
            if norm.text[s + n : s + n + 1] == PACKAGING_SUFFIX:
                continue
            return norm.text[s : s + n]
        return ""
