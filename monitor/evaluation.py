"""Scoring the detector on a hand-labelled set (shared/eval/ layout).

The set is run through the real stages, not a shortcut: its listings are
ingested into a fresh DuckDB file, matched with a copy of the project's
watchlists whose authorized lists are the set's own, and the leads are read
back from the warehouse. Precision, recall, priority agreement, the priority
confusion matrix and recall per case are then computed as the set's README
defines them.

    python -m monitor.evaluation [EVAL_DIR] [--watchlists DIR]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from monitor.ingest import ingest_feed
from monitor.leads import match_days
from monitor.warehouse import Warehouse
from monitor.watchlist import load_rights

PRIORITIES = ("high", "medium", "low")


@dataclass
class EvalReport:
    """Figures of one evaluation run."""

    predicted: int
    gold: int
    true_positives: int
    priority_agree: int
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (gold, predicted)
    recall_by_case: dict[str, tuple[int, int]] = field(default_factory=dict)
    false_positives: list[tuple[str, str]] = field(default_factory=list)
    false_negatives: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def priority_agreement(self) -> float:
        return self.priority_agree / self.true_positives if self.true_positives else 0.0

    def render(self) -> str:
        lines = [
            f"precision {self.precision:.3f} ({self.true_positives}/{self.predicted})  "
            f"recall {self.recall:.3f} ({self.true_positives}/{self.gold})  "
            f"priority agreement {self.priority_agreement:.3f} "
            f"({self.priority_agree}/{self.true_positives})",
            "priority confusion (rows: labelled, columns: predicted)",
            "          " + "".join(f"{p:>8}" for p in PRIORITIES),
        ]
        for gold in PRIORITIES:
            row = "".join(f"{self.confusion[(gold, p)]:>8}" for p in PRIORITIES)
            lines.append(f"  {gold:<8}{row}")
        lines.append("recall by case")
        for case, (hit, total) in sorted(self.recall_by_case.items()):
            lines.append(f"  {case:<22} {hit:>3}/{total:<3} {hit / total:.2f}")
        for lid, rid in self.false_positives:
            lines.append(f"  false positive: {lid} {rid}")
        for lid, rid, case in self.false_negatives:
            lines.append(f"  missed: {lid} {rid} ({case})")
        return "\n".join(lines)


def _watchlists_with(authorized: Path, watchlists: Path, into: Path) -> Path:
    target = into / "watchlists"
    shutil.copytree(watchlists, target, ignore=shutil.ignore_patterns("authorized"))
    shutil.copytree(authorized, target / "authorized")
    return target


def evaluate(eval_dir: Path, watchlists: Path, workdir: Path) -> EvalReport:
    """Run the labelled set through ingest and match in `workdir`; score the leads."""
    wl = _watchlists_with(eval_dir / "authorized", watchlists, workdir)
    rights = load_rights(wl)
    with Warehouse(workdir / "eval.duckdb") as wh:
        result = ingest_feed(wh, eval_dir / "listings.jsonl")
        if result.problems:
            raise ValueError(f"labelled set has bad lines: {result.problems[0]}")
        match_days(wh, rights)
        rows = wh.lead_priorities()
    predicted = {(lid, rid): prio for lid, rid, prio in rows}

    gold: dict[tuple[str, str], tuple[str, str]] = {}
    cases: Counter[str] = Counter()
    with (eval_dir / "labels.csv").open(encoding="utf-8") as handle:
        for rec in csv.DictReader(handle):
            if rec["lead"] == "true":
                gold[(rec["listing_id"], rec["right_id"])] = (rec["priority"], rec["case"])
                cases[rec["case"]] += 1

    tp = set(predicted) & set(gold)
    confusion: Counter[tuple[str, str]] = Counter(
        (gold[k][0], predicted[k]) for k in tp
    )
    hits: Counter[str] = Counter(gold[k][1] for k in tp)
    return EvalReport(
        predicted=len(predicted),
        gold=len(gold),
        true_positives=len(tp),
        priority_agree=sum(1 for k in tp if predicted[k] == gold[k][0]),
        confusion=confusion,
        recall_by_case={c: (hits[c], n) for c, n in cases.items()},
        false_positives=sorted(set(predicted) - set(gold)),
        false_negatives=sorted((k[0], k[1], gold[k][1]) for k in set(gold) - set(predicted)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monitor.evaluation", description=__doc__)
    parser.add_argument("eval_dir", nargs="?", default="../shared/eval")
    parser.add_argument("--watchlists", default="watchlists")
    args = parser.parse_args(argv)
    eval_dir = Path(args.eval_dir)
    if not (eval_dir / "listings.jsonl").is_file():
        print(f"{eval_dir}: no listings.jsonl here", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="monitor-eval-") as tmp:
        report = evaluate(eval_dir, Path(args.watchlists), Path(tmp))
    print(report.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
