"""Text normalization that remembers where every character came from.

Officers need to see *which span* of a title matched, so normalization is done
character by character and each kept character records its offset in the
original text, whether traditional→simplified conversion changed it, and
whether separators were dropped just before it. The conversions themselves
come from well-kept sources: Unicode NFKC (full-width → half-width and the
like), Unicode categories (what is punctuation, a symbol, an emoji or a
zero-width character) and OpenCC's t2s table (traditional → simplified).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import NamedTuple

import opencc

_T2S = opencc.OpenCC("t2s")

# Characters that end a clause: place+product proximity (rule 1.4) never
# reaches across them, while a name disguised with them is still one name.
CLAUSE_BREAKS = frozenset("，。；;！!？?+＋|｜/／、\n\r\t,")


class Char(NamedTuple):
    """One character of normalized text and where it came from."""

    ch: str
    pos: int  # offset in the original text
    converted: bool  # t2s changed it (a traditional character)
    gap: str  # what was dropped right before it: "" | "space" | "separator"
    clause: int  # index of the clause it belongs to


class Normalized:
    """Normalized text: the joined string, and per-character provenance on demand.

    Matching needs only `text`, built by one `str.translate`; the provenance of
    each character (`chars`) is worked out only when a reference is found and
    has to say where it came from.
    """

    __slots__ = ("original", "text", "_chars")

    def __init__(self, original: str, text: str):
        self.original = original
        self.text = text
        self._chars: tuple[Char, ...] | None = None

    @property
    def chars(self) -> tuple[Char, ...]:
        if self._chars is None:
            self._chars = _provenance(self.original)
        return self._chars

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original [start, end) offsets of normalized characters start..end-1."""
        chars = self.chars
        return chars[start].pos, chars[end - 1].pos + 1

    def original_slice(self, start: int, end: int) -> str:
        """The original text that normalized characters start..end-1 came from."""
        a, b = self.span(start, end)
        return self.original[a:b]


@lru_cache(maxsize=1)
def _latin_lookalikes() -> dict[str, str]:
    """Non-Latin letters that Unicode lists as confusable with a Latin letter or digit.

    From Unicode's confusables data (the confusable_homoglyphs package): a
    Cyrillic а or a Greek ο in "Ningxiа goji" reads as Latin to a buyer.
    """
    from confusable_homoglyphs import confusables

    table: dict[str, str] = {}
    for ch, glyphs in confusables.confusables_data.items():
        if len(ch) != 1 or ch.isascii() or "\u2e80" <= ch <= "\u9fff":
            continue
        for glyph in glyphs:
            target = glyph.get("c", "")
            if len(target) == 1 and target.isascii() and target.isalnum():
                table[ch] = target.lower()
                break
    return table


@lru_cache(maxsize=65536)
def _fold(ch: str) -> tuple[str, bool]:
    """NFKC, case-fold, t2s and Latin look-alikes for one character.

    Reports whether t2s changed it (a traditional character is a disguise).
    """
    folded = unicodedata.normalize("NFKC", ch).casefold()
    if len(folded) == 1 and "\u3400" <= folded <= "\u9fff":
        simplified = _T2S.convert(folded)
        if len(simplified) == 1 and simplified != folded:
            return simplified, True
        return folded, False
    if not folded.isascii():
        folded = "".join(_latin_lookalikes().get(c, c) for c in folded)
    return folded, False


def _kept(ch: str) -> bool:
    """Letters and digits carry meaning; punctuation, symbols, emoji, marks do not."""
    category = unicodedata.category(ch)
    return category[0] in "LN"


_KEEP, _SPACE, _SEPARATOR, _BREAK = 0, 1, 2, 3


@lru_cache(maxsize=65536)
def _classify(raw: str) -> tuple[str, bool, int]:
    """What one original character becomes: kept characters, converted?, and its effect."""
    if raw in CLAUSE_BREAKS:
        return "", False, _BREAK
    folded, converted = _fold(raw)
    kept = "".join(ch for ch in folded if _kept(ch))
    if kept:
        return kept, converted, _KEEP
    if any(ch in CLAUSE_BREAKS for ch in folded):
        return "", False, _BREAK
    return "", False, (_SPACE if folded.isspace() else _SEPARATOR)


def _provenance(text: str) -> tuple[Char, ...]:
    """Each kept character with its original offset, conversion, gap and clause."""
    chars: list[Char] = []
    gap = ""
    clause = 0
    for pos, raw in enumerate(text):
        kept, converted, effect = _classify(raw)
        if effect == _KEEP:
            for ch in kept:
                chars.append(Char(ch, pos, converted, gap, clause))
                gap = ""
        elif effect == _SPACE:
            gap = gap or "space"
        else:
            gap = "separator"
            if effect == _BREAK:
                clause += 1
    return tuple(chars)


class _FoldTable(dict[int, str | None]):
    """str.translate table built on first sight of each character, by the same rules."""

    def __missing__(self, code: int) -> str | None:
        value = _classify(chr(code))[0] or None
        self[code] = value
        return value


_TABLE = _FoldTable()


def normalize(text: str) -> Normalized:
    """Normalize `text` per LEAD_RULES rule 1; provenance is computed when asked for."""
    text = text or ""
    return Normalized(text, text.translate(_TABLE))


def normalize_plain(text: str) -> str:
    """Just the normalized string, for terms in watchlists."""
    return normalize(text).text
