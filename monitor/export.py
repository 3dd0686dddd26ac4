"""The leads CSV handed to enforcement officers (DESIGN.md, "The leads CSV").

Officers open it in Excel or WPS, so it is UTF-8 with a BOM, and any cell a
spreadsheet would run as a formula is neutralized: listing text is written by
sellers, and a title starting with `=` must stay text.
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from monitor.errors import UserError
from monitor.scoring import PRIORITIES, priority_rank
from monitor.warehouse import Warehouse
from monitor.watchlist import Right

COLUMNS = (
    "lead_id",
    "right_id",
    "right_name",
    "priority",
    "score",
    "reasons",
    "source",
    "listing_id",
    "url",
    "title",
    "seller_id",
    "seller_name",
    "ship_from",
    "jurisdiction",
    "price",
    "first_seen",
    "last_seen",
    "status",
    "evidence_sha256",
)
STATUSES = ("new", "confirmed", "dismissed", "referred", "taken_down")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> str:
    """A cell as text that no spreadsheet will evaluate."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


@dataclass
class ExportResult:
    path: Path
    rows: int


def export_leads(
    wh: Warehouse,
    rights: list[Right],
    out: Path,
    *,
    jurisdiction: str | None = None,
    min_priority: str | None = None,
    status: str | None = None,
) -> ExportResult:
    """Write the leads CSV atomically (a failed export leaves the old file in place)."""
    if min_priority is not None and min_priority not in PRIORITIES:
        raise UserError(f"--min-priority: {min_priority!r} is not one of {', '.join(PRIORITIES)}")
    if status is not None and status not in STATUSES:
        raise UserError(f"--status: {status!r} is not one of {', '.join(STATUSES)}")
    names = {r.id: r.name for r in rights}
    cols, rows = wh.export_rows(status, jurisdiction, priority_rank(min_priority or "low"))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".leads-", suffix=".csv", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for row in rows:
                rec = dict(zip(cols, row, strict=True))
                rec["right_name"] = names.get(rec["right_id"], "")
                writer.writerow([neutralize(rec[c]) for c in COLUMNS])
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ExportResult(out, len(rows))
