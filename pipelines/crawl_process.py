"""The crawl subprocess: `monitor.crawl.runner` inside a Dagster Pipes session.

Scrapy's Twisted reactor cannot restart, so every crawl gets a process of its
own (DESIGN.md, "Known pitfalls"); the `raw_listings` asset starts this module
with `PipesSubprocessClient`. It runs the runner's own `main` with the same
arguments, then reports the crawl's stats back to Dagster as materialization
metadata and the result of the `site_answered` check, so the operator sees
pages, listings and response codes per source and day in the UI. Run outside
Dagster it behaves like the runner (Pipes only warns that nobody listens).

    python -m pipelines.crawl_process --source S --date D --data DIR --term T ...
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from dagster_pipes import PipesContext, open_dagster_pipes

from monitor.crawl import runner

SITE_ANSWERED = "site_answered"


def site_answered(stats: Mapping[str, Any]) -> bool:
    """True when the marketplace sent at least one response below 500.

    A crawl that got only 5xx (or no response at all) "finishes" with no
    listings; that is an outage or a block, not a quiet day.
    """
    return any(int(code) < 500 for code in stats.get("responses_by_status", {}))


def crawl_metadata(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The operator's numbers of one crawl, typed for Dagster's UI."""
    stats = summary["stats"]

    def typed(value: Any, kind: str) -> dict[str, Any]:
        return {"raw_value": value, "type": kind}

    return {
        "pages": typed(stats["pages"], "int"),
        "listings": typed(stats["items"], "int"),
        "requests": typed(stats["requests"], "int"),
        "dropped": typed(sum(stats["dropped"].values()), "int"),
        "dropped_by_reason": typed(stats["dropped"], "json"),
        "responses_by_status": typed(stats["responses_by_status"], "json"),
        "errors": typed(stats["errors"], "int"),
        "retries": typed(stats["retries"], "int"),
        "duration_seconds": typed(stats["duration_seconds"], "float"),
        "finish_reason": typed(stats["finish_reason"], "text"),
        "listings_path": typed(summary["listings_path"], "path"),
        "warc_path": typed(summary["warc_path"], "path"),
    }


def report(pipes: PipesContext, summary: Mapping[str, Any]) -> None:
    """Send the materialization and the check result of one finished crawl."""
    stats = summary["stats"]
    pipes.report_asset_materialization(metadata=crawl_metadata(summary))
    pipes.report_asset_check(
        check_name=SITE_ANSWERED,
        passed=site_answered(stats),
        metadata={
            "responses_by_status": {"raw_value": stats["responses_by_status"], "type": "json"}
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the runner; on success report its summary line to Dagster. Returns the exit code."""
    with open_dagster_pipes() as pipes:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = runner.main(argv)
        text = out.getvalue()
        sys.stdout.write(text)  # the runner's JSON line stays in the step's stdout log
        sys.stdout.flush()
        if code != 0:
            pipes.log.error(f"crawl failed (exit {code}); see the step's stderr")
            return code
        summary = json.loads(text.strip().splitlines()[-1])
        stats = summary["stats"]
        pipes.log.info(
            f"{summary['source']} {summary['day']}: {stats['pages']} pages, "
            f"{stats['items']} listings, {stats['requests']} requests "
            f"in {stats['duration_seconds']} s"
        )
        report(pipes, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
