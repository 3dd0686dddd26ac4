"""How much a listing sells, so that its price can be compared with a price floor.

Marketplaces write quantities as `500g`, `250g*2`, `250g×4`, `2.5kg`, `2斤`,
`750ml*6`, `1.5L`. A gift box mixing products (`500g+1kg`, `750ml+1kg`) or a
count (`1本`, `3株`) has no single unit price, and then no price rule applies.
"""

from __future__ import annotations

import re
import unicodedata

_UNITS = {
    "g": (1.0, "g"),
    "克": (1.0, "g"),
    "kg": (1000.0, "g"),
    "公斤": (1000.0, "g"),
    "千克": (1000.0, "g"),
    "斤": (500.0, "g"),
    "两": (50.0, "g"),
    "ml": (1.0, "ml"),
    "毫升": (1.0, "ml"),
    "l": (1000.0, "ml"),
    "升": (1000.0, "ml"),
}
_TERM = re.compile(
    r"^(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>kg|g|ml|l|公斤|千克|克|斤|两|毫升|升)"
    r"(?:\s*[*x×]\s*(?P<times>\d+)\s*(?:袋|罐|盒|瓶|支|包|件|箱)?)?$"
)


def parse_quantity(text: str) -> tuple[float, str] | None:
    """Total amount and its base unit ('g' or 'ml'), or None if not one product."""
    if not text:
        return None
    q = unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")
    if "+" in q:
        return None
    match = _TERM.match(q)
    if not match:
        return None
    factor, unit = _UNITS[match.group("unit")]
    amount = float(match.group("num")) * factor * int(match.group("times") or 1)
    return (amount, unit) if amount > 0 else None


def unit_price(
    price: float | None, quantity: str, per_amount: float, per_unit: str
) -> float | None:
    """Price per `per_amount` of `per_unit` (e.g. CNY per 500 g), or None if unknown."""
    if price is None:
        return None
    parsed = parse_quantity(quantity)
    if parsed is None or parsed[1] != per_unit:
        return None
    amount, _ = parsed
    return price * per_amount / amount
