"""The matcher and scorer on the shared hand-labelled set (../shared/eval/).

The set goes through the real stages (ingest into a DuckDB file, match with the
set's own authorized lists); the figures are printed so that a run shows them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.evaluation import evaluate

from .conftest import SHARED_EVAL, WATCHLISTS


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    if not (SHARED_EVAL / "listings.jsonl").is_file():
        pytest.fail(f"the shared labelled set is missing at {SHARED_EVAL}")
    rep = evaluate(SHARED_EVAL, WATCHLISTS, Path(tmp_path_factory.mktemp("eval")))
    print("\n" + rep.render())
    return rep


def test_precision_and_recall(report) -> None:
    assert report.gold > 0 and report.predicted > 0
    assert report.precision >= 0.97, report.render()
    assert report.recall >= 0.97, report.render()


def test_priority_agreement(report) -> None:
    assert report.priority_agreement >= 0.9, report.render()


def test_every_case_is_recalled(report) -> None:
    for case, (hit, total) in report.recall_by_case.items():
        assert hit / total >= 0.8, f"{case}: {hit}/{total}"
