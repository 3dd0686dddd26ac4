"""Watchlists: the protected rights and who may use them, as plain files.

GI holders edit `watchlists/<right-id>.yaml` and `watchlists/authorized/<right-id>.csv`
by hand, so every problem is reported with the file and line it is on, and all
problems are collected at once by `check_watchlists` (what `monitor watchlist
check` prints) rather than stopping at the first.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import UserError

KINDS = ("geographical_indication", "trademark")
RIGHT_KEYS = {
    "id",
    "kind",
    "name",
    "other_names",
    "place",
    "product_terms",
    "excluded_terms",
    "cultivars",
    "protected_area",
    "price_floor",
    "reference_images",
    "registration",
    "holder",
    "class",
    "notes",
}
CSV_REQUIRED = ("source", "seller_id", "seller_name")
CSV_OPTIONAL = ("licence_no", "valid_from", "valid_until", "note")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PER_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(g|kg|ml|l)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class PriceFloor:
    """The lowest credible price: `cny` per `amount` grams or millilitres."""

    cny: float
    amount: float
    unit: str  # "g" or "ml"


@dataclass(frozen=True)
class Authorization:
    """One authorized seller of a right on one marketplace."""

    source: str
    seller_id: str
    seller_name: str
    licence_no: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    note: str = ""
    line: int = 0

    def valid_on(self, day: date) -> bool:
        """Whether the licence covers `day` (open-ended when a date is missing)."""
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_until and day > self.valid_until)


@dataclass(frozen=True)
class Right:
    """A protected right: a GI or a trademark, with its authorized sellers."""

    id: str
    kind: str
    name: str
    other_names: tuple[str, ...] = ()
    place: str = ""
    product_terms: tuple[str, ...] = ()
    excluded_terms: tuple[str, ...] = ()
    cultivars: tuple[str, ...] = ()
    protected_area: tuple[str, ...] = ()
    price_floor: PriceFloor | None = None
    reference_images: tuple[str, ...] = ()
    authorized: tuple[Authorization, ...] = field(default_factory=tuple)
    path: str = ""

    def search_terms(self) -> list[str]:
        """What to type into a marketplace's search box to find listings of this right."""
        terms = [self.name, *self.other_names]
        if self.place:
            terms.append(self.place)
        terms.extend(self.product_terms)
        seen: dict[str, None] = {}
        for term in terms:
            if term and term not in seen:
                seen[term] = None
        return list(seen)


@dataclass
class Problems:
    """Problems found while reading watchlists, each as 'path:line: message'."""

    items: list[str] = field(default_factory=list)

    def add(self, path: Path | str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line else f"{path}"
        self.items.append(f"{where}: {message}")


def _key_lines(node: yaml.Node) -> dict[str, int]:
    """Line (1-based) of each top-level key of a YAML mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def _str_list(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return None


def _price_floor(value: Any) -> PriceFloor | None:
    if not isinstance(value, dict) or "cny" not in value or "per" not in value:
        raise ValueError("must be a mapping like {cny: 30, per: 500g}")
    try:
        cny = float(value["cny"])
    except (TypeError, ValueError):
        raise ValueError("'cny' must be a number") from None
    match = _PER_RE.match(str(value["per"]))
    if not match or cny <= 0:
        raise ValueError("'per' must be an amount like 500g or 750ml and 'cny' positive")
    amount, unit = float(match.group(1)), match.group(2).lower()
    if unit == "kg":
        amount, unit = amount * 1000, "g"
    elif unit == "l":
        amount, unit = amount * 1000, "ml"
    return PriceFloor(cny, amount, unit)


def _read_right(path: Path, problems: Problems) -> Right | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(path, None, f"cannot read ({exc})")
        return None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.add(path, line, f"YAML syntax error: {reason}")
        return None
    if not isinstance(data, dict):
        problems.add(path, 1, "a watchlist must be a YAML mapping")
        return None
    lines = _key_lines(node)
    before = len(problems.items)

    def bad(key: str, message: str) -> None:
        problems.add(path, lines.get(key, 1), f"field '{key}' {message}")

    for key in data:
        if key not in RIGHT_KEYS:
            bad(str(key), "is not a watchlist field")
    for key in ("id", "kind", "name"):
        if not isinstance(data.get(key), str) or not data.get(key, "").strip():
            bad(key, "is required and must be text")
    right_id = str(data.get("id") or "")
    if right_id and not _ID_RE.match(right_id):
        bad("id", "must be lower-case letters, digits and dashes")
    if right_id and right_id != path.stem:
        bad("id", f"is {right_id!r} but the file is named {path.name}")
    if data.get("kind") and data.get("kind") not in KINDS:
        bad("kind", f"must be one of {', '.join(KINDS)}")
    lists = {}
    for key in ("other_names", "product_terms", "excluded_terms", "cultivars",
                "protected_area", "reference_images"):
        value = _str_list(data.get(key))
        if value is None:
            bad(key, "must be a list of text")
            value = ()
        lists[key] = value
    if data.get("place") is not None and not isinstance(data.get("place"), str):
        bad("place", "must be text")
    if data.get("place") and not lists["product_terms"]:
        bad("product_terms", "is required when 'place' is given")
    floor = None
    if data.get("price_floor") is not None:
        try:
            floor = _price_floor(data["price_floor"])
        except ValueError as exc:
            bad("price_floor", str(exc))
    if lists["protected_area"]:
        from monitor.places import parse_area

        for entry in lists["protected_area"]:
            try:
                parse_area(entry)
            except ValueError as exc:
                bad("protected_area", str(exc))
    for image in lists["reference_images"]:
        if not (path.parent / image).is_file():
            bad("reference_images", f"names {image!r}, which is not a file")
    if len(problems.items) > before:
        return None
    return Right(
        id=right_id,
        kind=data["kind"],
        name=data["name"].strip(),
        other_names=lists["other_names"],
        place=(data.get("place") or "").strip(),
        product_terms=lists["product_terms"],
        excluded_terms=lists["excluded_terms"],
        cultivars=lists["cultivars"],
        protected_area=lists["protected_area"],
        price_floor=floor,
        reference_images=lists["reference_images"],
        path=str(path),
    )


def _parse_date(text: str) -> date | None:
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def read_authorized(path: Path, problems: Problems) -> tuple[Authorization, ...]:
    """Read one authorized-seller CSV, reporting each bad row by its line."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(path, None, f"cannot read ({exc})")
        return ()
    rows = list(csv.reader(raw.splitlines()))
    if not rows:
        problems.add(path, 1, f"empty file; the header must be {','.join(CSV_REQUIRED)}")
        return ()
    header = [h.strip() for h in rows[0]]
    missing = [h for h in CSV_REQUIRED if h not in header]
    unknown = [h for h in header if h not in CSV_REQUIRED + CSV_OPTIONAL]
    if missing or unknown:
        what = f"missing column(s) {', '.join(missing)}" if missing else ""
        what += ("; " if what and unknown else "") + (
            f"unknown column(s) {', '.join(unknown)}" if unknown else ""
        )
        problems.add(path, 1, f"bad header: {what}")
        return ()
    out: list[Authorization] = []
    seen: dict[tuple[str, str], int] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            problems.add(path, line_no, f"{len(row)} cells but the header has {len(header)}")
            continue
        rec = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        if not rec["source"] or not rec["seller_id"]:
            problems.add(path, line_no, "'source' and 'seller_id' are required")
            continue
        try:
            valid_from = _parse_date(rec.get("valid_from", ""))
            valid_until = _parse_date(rec.get("valid_until", ""))
        except ValueError:
            problems.add(path, line_no, "valid_from/valid_until must be dates YYYY-MM-DD")
            continue
        if valid_from and valid_until and valid_until < valid_from:
            problems.add(path, line_no, "valid_until is before valid_from")
            continue
        key = (rec["source"], rec["seller_id"])
        if key in seen:
            problems.add(path, line_no, f"seller {rec['seller_id']} already on line {seen[key]}")
            continue
        seen[key] = line_no
        out.append(
            Authorization(
                source=rec["source"],
                seller_id=rec["seller_id"],
                seller_name=rec["seller_name"],
                licence_no=rec.get("licence_no", ""),
                valid_from=valid_from,
                valid_until=valid_until,
                note=rec.get("note", ""),
                line=line_no,
            )
        )
    return tuple(out)


def check_watchlists(directory: Path) -> tuple[list[Right], list[str]]:
    """Read every right and authorized list under `directory`; return rights and problems."""
    problems = Problems()
    if not directory.is_dir():
        problems.add(directory, None, "watchlists folder not found")
        return [], problems.items
    rights: list[Right] = []
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        right = _read_right(path, problems)
        if right is not None:
            rights.append(right)
    if not rights and not problems.items:
        problems.add(directory, None, "no <right-id>.yaml files")
    known = {r.id for r in rights}
    ids = [r.id for r in rights]
    for right_id in {i for i in ids if ids.count(i) > 1}:
        problems.add(directory, None, f"right id {right_id!r} is defined twice")
    authorized_dir = directory / "authorized"
    by_right: dict[str, tuple[Authorization, ...]] = {}
    if authorized_dir.is_dir():
        for path in sorted(authorized_dir.glob("*.csv")):
            if path.stem not in known and not any(path.stem in p for p in problems.items):
                problems.add(path, None, f"no watchlist {path.stem}.yaml for this file")
                continue
            by_right[path.stem] = read_authorized(path, problems)
    rights = [
        Right(**{**r.__dict__, "authorized": by_right.get(r.id, ())}) for r in rights
    ]
    return rights, problems.items


def load_rights(directory: Path) -> list[Right]:
    """Load all rights for matching; any problem is a UserError naming the first one."""
    rights, problems = check_watchlists(directory)
    if problems:
        more = f" (and {len(problems) - 1} more; run 'monitor watchlist check')" if len(
            problems
        ) > 1 else ""
        raise UserError(problems[0] + more)
    return rights
