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
from dataclasses import dataclass
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")

# Characters that end a clause: place+product proximity (rule 1.4) never
# reaches across them, while a name disguised with them is still one name.
CLAUSE_BREAKS = frozenset("，。；;！!？?+＋|｜/／、\n\r\t,")


@dataclass(frozen=True)
class Char:
    """One character of normalized text and where it came from."""

    ch: str
    pos: int  # offset in the original text
    converted: bool  # t2s changed it (a traditional character)
    gap: str  # what was dropped right before it: "" | "space" | "separator"
    clause: int  # index of the clause it belongs to


@dataclass(frozen=True)
class Normalized:
    """Normalized text: the joined string plus per-character provenance."""

    original: str
    text: str
    chars: tuple[Char, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original [start, end) offsets of normalized characters start..end-1."""
        first = self.chars[start].pos
        last = self.chars[end - 1].pos
        return first, last + 1

    def original_slice(self, start: int, end: int) -> str:
        """The original text that normalized characters start..end-1 came from."""
        a, b = self.span(start, end)
        return self.original[a:b]


@lru_cache(maxsize=65536)
def _fold(ch: str) -> tuple[str, bool]:
    """NFKC, case-fold and t2s one character; report whether t2s changed it."""
    folded = unicodedata.normalize("NFKC", ch).casefold()
    if len(folded) == 1 and "\u3400" <= folded <= "\u9fff":
        simplified = _T2S.convert(folded)
        if len(simplified) == 1 and simplified != folded:
            return simplified, True
    return folded, False


def _kept(ch: str) -> bool:
    """Letters and digits carry meaning; punctuation, symbols, emoji, marks do not."""
    category = unicodedata.category(ch)
    return category[0] in "LN"


def normalize(text: str) -> Normalized:
    """Normalize `text` per LEAD_RULES rule 1 and keep each character's provenance."""
    chars: list[Char] = []
    out: list[str] = []
    gap = ""
    clause = 0
    for pos, raw in enumerate(text or ""):
        if raw in CLAUSE_BREAKS:
            clause += 1
            gap = "separator"
            continue
        folded, converted = _fold(raw)
        for ch in folded:
            if _kept(ch):
                chars.append(Char(ch, pos, converted, gap, clause))
                out.append(ch)
                gap = ""
            elif ch.isspace():
                gap = gap or "space"
            elif ch in CLAUSE_BREAKS:
                clause += 1
                gap = "separator"
            else:
                gap = "separator"
    return Normalized(text or "", "".join(out), tuple(chars))


def normalize_plain(text: str) -> str:
    """Just the normalized string, for terms in watchlists."""
    return normalize(text).text
