"""Does a listing refer to a protected right? (rule 1 of LEAD_RULES.md)

One Aho-Corasick automaton holds, for every right, the pieces a reference can
be found by: the bigrams of the protected name (any name disguised by at most
one changed character in four, two in longer names, still contains one of its
bigrams unchanged), the Latin forms (translations and pinyin), the place part,
the product terms of the right's class, excluded terms and cultivar names, plus
the evoking words. A title that hits nothing is done after one pass; a hit is
then verified where it stands:

- a name-length window around a bigram is compared character by character,
  every difference having to be a homophone, near homophone or similar shape
  (`variants.substitution`);
- a place part followed closely, in the same clause, by a product term of the
  right's class, with only descriptive words between, is a place+product
  reference (rule 1.4);
- an evoking word touching a reference (仿, 媲美, 同款, 风味, 型, ...) marks
  rule 1.5;
- an excluded term in the title (a seedling, a jar, a map, wool) vetoes the
  right, since the product is outside its class.

Latin forms that are not found exactly are tried with rapidfuzz, which also
gives the span. Every reference keeps its field, span, form and score so that
the lead can say exactly why it is one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick
from rapidfuzz import fuzz, process

from monitor.text.normalize import Normalized, normalize, normalize_plain
from monitor.text.variants import name_readings, substitution
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
_TRIGGERS = frozenset({"bigram", "latin", "place"})  # hit kinds that can start a reference
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


@dataclass(frozen=True)
class Reference:
    """One place in a listing where it refers to a right."""

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


# An automaton value: (key length, trigger entries, passive entries by right, boundary?)
_Payload = tuple[int, tuple[tuple[str, int, object], ...],
                 dict[int, tuple[tuple[str, object], ...]], bool]


def _passive(
    raw: list[tuple[int, _Payload]], index: int
) -> dict[str, list[tuple[int, int, object]]]:
    """The product, excluded and cultivar hits of one right, by kind."""
    out: dict[str, list[tuple[int, int, object]]] = {}
    for start, (length, _, passive, _) in raw:
        for kind, extra in passive.get(index, ()):
            out.setdefault(kind, []).append((start, length, extra))
    return out


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


def _latin_forms(right: Right) -> dict[str, str]:
    """Normalized Latin form → 'pinyin' or 'translation'."""
    pinyin = "".join(name_readings(right.name))
    forms = {pinyin: "pinyin"} if len(pinyin) >= 4 else {}
    for other in right.other_names:
        form = normalize_plain(other)
        if form and form.isascii() and form not in forms:
            forms[form] = "pinyin" if form == pinyin else "translation"
    return forms


class Matcher:
    """Finds references to a set of rights in listing titles and descriptions."""

    def __init__(self, rights: Iterable[Right]):
        self.rights = [self._compile(r) for r in rights]
        self._latin: list[dict[str, str]] = [_latin_forms(c.right) for c in self.rights]
        auto = ahocorasick.Automaton()
        entries: dict[str, list[tuple[str, int, object]]] = {}

        def add(key: str, kind: str, index: int, extra: object = None) -> None:
            if key:
                entries.setdefault(key, []).append((kind, index, extra))

        for i, c in enumerate(self.rights):
            for j in range(len(c.name) - 1):
                add(c.name[j : j + 2], "bigram", i, j)
            for form, kind in self._latin[i].items():
                add(form, "latin", i, kind)
            add(normalize_plain(c.right.place), "place", i)
            for term in c.right.product_terms:
                add(normalize_plain(term), "product", i)
            for term in c.right.excluded_terms:
                add(normalize_plain(term), "excluded", i)
            for term in c.right.cultivars:
                add(normalize_plain(term), "cultivar", i)
        for word in OTHER_PLACES + OTHER_PRODUCTS:
            add(word, "not_descriptive", -1)
        for key, values in entries.items():
            # Trigger kinds can start a reference and are read on every hit; the
            # others (product, excluded, cultivar terms, shared by many rights)
            # are looked up per right only for rights a trigger woke up.
            triggers = tuple(v for v in values if v[0] in _TRIGGERS)
            passive: dict[int, list[tuple[str, object]]] = {}
            for kind, index, extra in values:
                if kind not in _TRIGGERS and index >= 0:
                    passive.setdefault(index, []).append((kind, extra))
            boundary = any(index < 0 for _, index, _ in values)
            auto.add_word(key, (len(key), triggers,
                                {i: tuple(v) for i, v in passive.items()}, boundary))
        self._fuzzy_owners = [
            (i, form, kind)
            for i, forms in enumerate(self._latin)
            for form, kind in forms.items()
            if len(form) >= MIN_FUZZY_LATIN
        ]
        self._fuzzy_forms = [form for _, form, _ in self._fuzzy_owners]
        auto.make_automaton()
        self._auto = auto

    @staticmethod
    def _compile(right: Right) -> _CompiledRight:
        name = normalize_plain(right.name)
        return _CompiledRight(
            right=right,
            name=name,
            readings=tuple(name_readings(name)),
            max_subs=_max_subs(len(name)),
        )

    # -- public -------------------------------------------------------------

    def match(self, title: str, description: str = "") -> dict[str, RightMatch]:
        """Every right the listing refers to (vetoed rights included, with the veto)."""
        found: dict[str, RightMatch] = {}
        title_scan: tuple[Normalized, list[tuple[int, _Payload]]] | None = None
        for field_name, text in (("title", title), ("description", description)):
            if not text:
                continue
            norm = normalize(text)
            raw = [(end - payload[0] + 1, payload) for end, payload in self._auto.iter(norm.text)]
            if field_name == "title":
                title_scan = (norm, raw)
            self._scan(field_name, norm, raw, found)
        if title_scan is not None and found:
            norm, raw = title_scan
            for index, c in enumerate(self.rights):
                if c.right.id in found:
                    excluded = _passive(raw, index).get("excluded", [])
                    found[c.right.id].vetoed_by = self._veto(norm, excluded)
        return found

    def referred(self, title: str, description: str = "") -> dict[str, RightMatch]:
        """Only the rights the listing really refers to (rule 1, exclusions applied)."""
        return {k: v for k, v in self.match(title, description).items() if v.refers}

    # -- scanning -----------------------------------------------------------

    def _scan(
        self,
        field_name: str,
        norm: Normalized,
        raw: list[tuple[int, _Payload]],
        found: dict[str, RightMatch],
    ) -> None:
        text = norm.text
        hits: dict[int, dict[str, list[tuple[int, int, object]]]] = {}
        boundaries: list[int] = []
        for start, (length, triggers, _, boundary) in raw:
            for kind, index, extra in triggers:
                hits.setdefault(index, {}).setdefault(kind, []).append((start, length, extra))
            if boundary:
                boundaries.append(start)
        fuzzy = self._fuzzy_latin(text, hits) if _LATIN_RUN.search(text) else {}
        for index in sorted(hits.keys() | fuzzy.keys()):
            c = self.rights[index]
            kinds = hits.get(index, {})
            passive = _passive(raw, index)
            refs = self._names(c, field_name, norm, kinds.get("bigram", []),
                               passive.get("cultivar", []))
            refs += self._latin_refs(index, field_name, norm, kinds.get("latin", []))
            if index in fuzzy:
                refs.append(self._fuzzy_ref(index, field_name, norm, *fuzzy[index]))
            if c.right.place:
                refs += self._splits(c, field_name, norm, kinds.get("place", []),
                                     passive.get("product", []), refs, boundaries)
            if refs:
                found.setdefault(c.right.id, RightMatch(c.right.id)).references.extend(refs)

    def _fuzzy_latin(
        self, text: str, hits: dict[int, dict[str, list[tuple[int, int, object]]]]
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
        field_name: str,
        norm: Normalized,
        bigrams: list[tuple[int, int, object]],
        cultivars: list[tuple[int, int, object]],
    ) -> list[Reference]:
        m = len(c.name)
        starts = sorted({pos - int(offset) for pos, _, offset in bigrams})  # type: ignore[arg-type]
        masked = [(s, s + n) for s, n, _ in cultivars]
        candidates: list[tuple[int, int, Reference]] = []
        for s in starts:
            if s < 0 or s + m > len(norm.text):
                continue
            if any(a < s + m and s < b for a, b in masked):
                continue
            window = norm.text[s : s + m]
            if window == c.name:
                candidates.append((0, s, self._name_ref(c, field_name, norm, s, [])))
                continue
            subs: list[tuple[str, str, str]] = []
            for ch, name_ch, reading in zip(window, c.name, c.readings, strict=True):
                kind = substitution(name_ch, reading, ch)
                if kind is None:
                    subs = []
                    break
                if kind != "exact":
                    subs.append((ch, name_ch, kind))
            else:
                if len(subs) > c.max_subs:
                    continue
                candidates.append((len(subs), s, self._name_ref(c, field_name, norm, s, subs)))
        chosen: list[Reference] = []
        taken: list[tuple[int, int]] = []
        for _, s, ref in sorted(candidates, key=lambda t: (t[0], t[1])):
            if any(a < s + m and s < b for a, b in taken):
                continue
            taken.append((s, s + m))
            chosen.append(ref)
        return chosen

    def _name_ref(
        self,
        c: _CompiledRight,
        field_name: str,
        norm: Normalized,
        s: int,
        subs: list[tuple[str, str, str]],
    ) -> Reference:
        m = len(c.name)
        window = norm.chars[s : s + m]
        detail = ""
        if subs:
            form = "homophone" if any(k != "shape" for *_, k in subs) else "shape"
            detail = ", ".join(f"{t}→{n} {_SUB_LABEL[k]} {k.replace('_', ' ')}" for t, n, k in subs)
        elif any(ch.converted for ch in window):
            form = "traditional"
        elif any(ch.gap == "separator" for ch in window[1:]) or sum(
            ch.gap == "space" for ch in window[1:]
        ) >= 2:
            form = "separators"
        else:
            form = "exact"
        score = _BASE_SCORE[form] - 0.05 * max(0, len(subs) - 1)
        start, end = norm.span(s, s + m)
        return Reference(
            right_id=c.right.id,
            form=form,
            field=field_name,
            start=start,
            end=end,
            text=norm.original[start:end],
            score=round(score, 3),
            detail=detail,
            evoking=self._evoking(norm.text, s, s + m),
        )

    def _latin_refs(
        self, index: int, field_name: str, norm: Normalized, exact: list[tuple[int, int, object]]
    ) -> list[Reference]:
        c = self.rights[index]
        refs: list[Reference] = []
        seen_forms: set[str] = set()
        for s, n, kind in exact:
            form_text = norm.text[s : s + n]
            seen_forms.add(form_text)
            start, end = norm.span(s, s + n)
            refs.append(
                Reference(c.right.id, str(kind), field_name, start, end, norm.original[start:end],
                          _BASE_SCORE[str(kind)], evoking=self._evoking(norm.text, s, s + n))
            )
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
        other_places: list[int],
    ) -> list[Reference]:
        products = sorted(products)
        if not places or not products:
            return []
        name_spans = [(r.start, r.end) for r in names if r.field == field_name]
        refs: list[Reference] = []
        for p, plen, _ in places:
            after = p + plen
            clause = norm.chars[p].clause
            for q, qlen, _ in products:
                if q < after:
                    continue
                if q - after > MAX_GAP or norm.chars[q].clause != clause:
                    break
                if any(after <= o < q for o in other_places):
                    break
                start, end = norm.span(p, q + qlen)
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
