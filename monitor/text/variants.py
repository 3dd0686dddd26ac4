"""When is a different character still the protected one, to a buyer's eye or ear?

A seller who writes 柠夏枸杞 or 盐地滩羊 counts on the buyer reading the GI
name while a keyword filter sees something else. A character of the text can
stand for a character of the name when it

- sounds the same with tones dropped (pypinyin's readings, every reading of a
  polyphonic text character), which makes a *homophone*;
- sounds the same after folding the pairs that many Mandarin speakers merge
  (n/l, z/zh, c/ch, s/sh, f/h, an/ang, en/eng, in/ing), a *near homophone*;
- looks alike (the project's table in data/similar_shapes.txt), a *shape* match.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

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


@lru_cache(maxsize=1)
def shape_groups() -> dict[str, frozenset[str]]:
    """Character → the characters that look like it, from the project's table."""
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


@lru_cache(maxsize=262144)
def substitution(name_ch: str, name_reading: str, text_ch: str) -> str | None:
    """How `text_ch` can stand for `name_ch` of a name, or None if it cannot.

    Returns "homophone", "near_homophone" or "shape".
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
