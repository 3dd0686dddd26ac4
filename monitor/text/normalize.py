"""Text normalization that remembers where every character came from.

Normalization maps each character on its own (one `str.translate` over a
table learnt character by character), so every kept character can be traced
back: officers need to see *which span* of a title matched. Its offset in the
original text, whether traditional→simplified conversion changed it, and
whether separators were dropped just before it are worked out on demand, for
the span being explained. The conversions themselves
come from well-kept sources: Unicode NFKC (full-width → half-width and the
like), Unicode categories (what is punctuation, a symbol, an emoji or a
zero-width character) and OpenCC's t2s table (traditional → simplified).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import compress
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
    """Normalized text: the joined string, and where its characters came from, on demand.

    Matching needs only `text`, built by one `str.translate`; the original
    offset of each character (`positions`) is worked out only when a
    reference is found and has to say where it came from, and the rest of the
    provenance (conversion, dropped separators, clause) only for the span
    that is being explained.
    """

    __slots__ = ("original", "text", "_positions")

    def __init__(self, original: str, text: str):
        self.original = original
        self.text = text
        self._positions: list[int] | None = None

    @property
    def positions(self) -> list[int]:
        """The original offset of every normalized character."""
        if self._positions is None:
            kept = list(map(_KEPT_LENGTH.__getitem__, self.original))
            if max(kept, default=0) <= 1:  # each character kept as itself or dropped
                self._positions = list(compress(range(len(kept)), kept))
            else:  # one kept as several (NFKC "㎏" → "kg"): each gets the same offset
                self._positions = [pos for pos, n in enumerate(kept) for _ in range(n)]
        return self._positions

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original [start, end) offsets of normalized characters start..end-1."""
        positions = self.positions
        return positions[start], positions[end - 1] + 1

    def verbatim_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The original span of normalized characters start..end-1 if they were written as is.

        The usual case, a name written plainly, is settled without working out
        every position: when the characters occur once in the original, exactly
        as normalized (and normalizing them changes nothing), and once in the
        normalized text, the one occurrence is where they came from.
        """
        piece = self.text[start:end]
        at = self.original.find(piece)
        if at < 0 or self.original.find(piece, at + 1) >= 0 or self.text.count(piece) != 1:
            return None
        if piece.translate(_TABLE) != piece:
            return None
        return at, at + len(piece)

    def original_slice(self, start: int, end: int) -> str:
        """The original text that normalized characters start..end-1 came from."""
        a, b = self.span(start, end)
        return self.original[a:b]

    def converted(self, start: int, end: int) -> bool:
        """Did t2s change any of normalized characters start..end-1 (traditional script)?"""
        a, b = self.span(start, end)
        return not _CONVERTED.isdisjoint(self.original[a:b])

    def gaps(self, start: int, end: int) -> list[str]:
        """`gap` of each of normalized characters start+1..end-1 (inside a span)."""
        a, b = self.span(start, end)
        if b - a == end - start:  # nothing dropped, nothing expanded: no gaps
            return [""] * (end - start - 1)
        return [self.gap(k) for k in range(start + 1, end)]

    def gap(self, index: int) -> str:
        """What was dropped just before normalized character `index`: "", "space", "separator"."""
        positions = self.positions
        before = positions[index - 1] + 1 if index else 0
        dropped = self.original[before : positions[index]]
        if not dropped:
            return ""
        return "space" if dropped.isspace() else "separator"

    def clause(self, index: int) -> int:
        """Which clause normalized character `index` is in (clause breaks before it)."""
        return _clause_breaks(self.original[: self.positions[index]])

    def same_clause(self, a: int, b: int) -> bool:
        """Are normalized characters a <= b in one clause (no clause break between)?"""
        positions = self.positions
        return not _clause_breaks(self.original[positions[a] : positions[b]])

    @property
    def chars(self) -> tuple[Char, ...]:
        """Every kept character with its full provenance (for inspection and tests)."""
        return tuple(
            Char(ch, pos, self.converted(i, i + 1), self.gap(i), self.clause(i))
            for i, (ch, pos) in enumerate(zip(self.text, self.positions, strict=True))
        )


def _clause_breaks(raw: str) -> int:
    """How many characters of `raw` end a clause."""
    return sum(1 for ch in raw if _classify(ch)[2] == _BREAK)


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


class _FoldTable(dict[int, str | None]):
    """str.translate table built on first sight of each character, by the same rules."""

    def __missing__(self, code: int) -> str | None:
        value = _classify(chr(code))[0] or None
        self[code] = value
        return value


class _KeptLength(dict[str, int]):
    """How many normalized characters one original character becomes, learnt on first sight."""

    def __missing__(self, raw: str) -> int:
        kept, converted, _ = _classify(raw)
        if converted:
            _CONVERTED.add(raw)
        self[raw] = len(kept)
        return len(kept)


_TABLE = _FoldTable()
_KEPT_LENGTH = _KeptLength()
# Original characters t2s changed, as met (every character of a text whose
# positions were asked for has been met).
_CONVERTED: set[str] = set()


def fold(text: str) -> str:
    """The normalized string alone (what the matcher scans before anything else)."""
    return text.translate(_TABLE)


def normalize(text: str) -> Normalized:
    """Normalize `text` per LEAD_RULES rule 1; provenance is computed when asked for."""
    text = text or ""
    return Normalized(text, text.translate(_TABLE))


def normalize_plain(text: str) -> str:
    """Just the normalized string, for terms in watchlists."""
    return normalize(text).text
