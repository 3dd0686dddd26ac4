"""The `monitor` command (DESIGN.md, "The command").

Every subcommand is a thin caller of a stage function in this package. A user
error (a bad file, line or field) is printed as one line and exits 1; nothing
is written by a command that fails on its input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from monitor import config
from monitor.errors import UserError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 1, like every user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="monitor",
        description="Watch e-commerce listings for misuse of geographical indications "
        "and trademarks.",
    )
    parser.add_argument("--db", help="warehouse file (default: $MONITOR_DB or "
                        "warehouse/monitor.duckdb)")
    parser.add_argument("--watchlists", help="watchlists folder (default: "
                        "$MONITOR_WATCHLISTS or watchlists/)")
    parser.add_argument("--data", help="raw zone folder (default: $MONITOR_DATA or data/)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="start the demo marketplace, run the whole day, "
                          "print a summary")
    demo.add_argument("--date", help="crawl day YYYY-MM-DD (default: today, Asia/Shanghai)")
    demo.add_argument("--port", type=int, default=8700,
                      help="demo marketplace port (default 8700; a free one if taken)")
    demo.add_argument("--out", help="leads CSV (default: exports/leads-<date>.csv)")

    crawl = sub.add_parser("crawl", help="crawl one source for one day and load its listings")
    crawl.add_argument("source", metavar="SOURCE", help="a bundled source name or a source "
                       "YAML path")
    crawl.add_argument("--date", help="crawl day YYYY-MM-DD (default: today, Asia/Shanghai)")

    ingest = sub.add_parser("ingest", help="load a JSONL listing feed")
    ingest.add_argument("file", metavar="FILE.jsonl")
    ingest.add_argument("--source", help="source name for lines without one")

    images = sub.add_parser("images", help="fetch and hash listing images not yet fetched")
    images.add_argument("--date", help="only listings of this crawl day (default: every day)")
    images.add_argument("--sources", help="folder of source files for feeds (default: "
                        "$MONITOR_SOURCES or sources/); bundled sources are always known")

    match = sub.add_parser("match", help="(re)match stored listings and update leads")
    match.add_argument("--date", help="only this crawl day (default: every stored day)")

    leads = sub.add_parser("leads", help="export or triage leads")
    leads_sub = leads.add_subparsers(dest="leads_command", metavar="ACTION", required=True)
    export = leads_sub.add_parser("export", help="write the leads CSV")
    export.add_argument("--out", help="CSV path (default: exports/leads-<today>.csv)")
    export.add_argument("--jurisdiction", help="only leads whose seller ships from here "
                        "(e.g. 河北, 宁夏回族自治区 中卫市)")
    export.add_argument("--min-priority", choices=("low", "medium", "high"))
    export.add_argument("--status", help="only leads with this status (default: all but "
                        "dismissed)")
    triage = leads_sub.add_parser("triage", help="set a lead's status")
    triage.add_argument("lead_id", metavar="LEAD_ID")
    triage.add_argument("--status", required=True)
    triage.add_argument("--note", default="")
    triage.add_argument("--by", default="")

    evidence = sub.add_parser("evidence", help="check kept evidence files")
    ev_sub = evidence.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)
    verify = ev_sub.add_parser("verify", help="re-hash evidence files (WARC records, DOM, "
                               "screenshots) against the warehouse; exit 1 if any changed "
                               "or went missing")
    verify.add_argument("--date", help="only this crawl day")
    verify.add_argument("--source", help="only this source")

    watchlist = sub.add_parser("watchlist", help="watchlist tools")
    wl_sub = watchlist.add_subparsers(dest="watchlist_command", metavar="ACTION", required=True)
    wl_sub.add_parser("check", help="validate watchlists; exit 1 with file:line errors")
    return parser


def _cmd_demo(args: argparse.Namespace) -> int:
    from monitor.demo.run import run_demo

    day = config.parse_day(args.date) or config.today()
    out = Path(args.out) if args.out else config.exports_dir() / f"leads-{day}.csv"
    summary = run_demo(
        db=config.db_path(args.db),
        watchlists=config.watchlists_dir(args.watchlists),
        data=config.data_dir(args.data),
        out=out,
        day=day,
        port=args.port,
    )
    print(summary.render())
    return 0


def _cmd_crawl(args: argparse.Namespace) -> int:
    from monitor.crawl_stage import crawl_and_load

    day = config.parse_day(args.date) or config.today()
    result = crawl_and_load(
        args.source,
        day,
        db=config.db_path(args.db),
        watchlists=config.watchlists_dir(args.watchlists),
        data=config.data_dir(args.data),
        settings={"LOG_LEVEL": "WARNING"},
    )
    stats = result.stats
    loaded = result.ingest.loaded
    statuses = ", ".join(f"{k}: {v}" for k, v in stats["responses_by_status"].items()) or "none"
    dropped = ", ".join(f"{k}: {v}" for k, v in stats["dropped"].items()) or "none"
    print(f"crawl {stats['source']} {stats['day']}: {stats['requests']} requests "
          f"(responses {statuses}), {stats['pages']} listing pages, {stats['items']} listings, "
          f"dropped {dropped}, {stats['duration_seconds']:.1f}s, "
          f"{stats.get('pages_per_second', 0):.1f} pages/s")
    print(f"loaded {loaded.total} listings ({loaded.new} new, {loaded.changed} changed, "
          f"{loaded.unchanged} unchanged) into {config.db_path(args.db)}")
    for problem in result.ingest.problems:
        print(str(problem), file=sys.stderr)
    if stats.get("finish_reason") != "finished":
        raise UserError(f"crawl of {stats['source']} did not finish ({stats['finish_reason']})")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from monitor.ingest import ingest_feed
    from monitor.warehouse import Warehouse

    path = Path(args.file)
    from monitor.ingest import read_listings

    read_listings(path, args.source)  # fail on an unreadable file before opening the warehouse
    with Warehouse(config.db_path(args.db)) as wh:
        result = ingest_feed(wh, path, args.source)
    loaded = result.loaded
    print(f"loaded {loaded.total} listings from {path} ({loaded.new} new, {loaded.changed} "
          f"changed, {loaded.unchanged} unchanged); skipped {len(result.problems)} lines")
    for problem in result.problems:
        print(str(problem), file=sys.stderr)
    return 1 if result.problems else 0


def _cmd_images(args: argparse.Namespace) -> int:
    import os

    from monitor.image.stage import fetch_images
    from monitor.warehouse import Warehouse

    day = config.parse_day(args.date)
    sources = Path(args.sources or os.environ.get("MONITOR_SOURCES") or "sources")
    with Warehouse(config.db_path(args.db)) as wh:
        result = fetch_images(wh, config.data_dir(args.data), day,
                              sources if sources.is_dir() else None)
    print(f"images: {result.tried} new URLs ({result.from_crawl} fetched during the crawl), "
          f"{result.fetched} good, "
          f"{result.new_images} new images hashed, {sum(result.problems.values())} not used")
    for problem, n in sorted(result.problems.items()):
        print(f"  {n:>4}  {problem}")
    return 0


def _cmd_match(args: argparse.Namespace) -> int:
    from monitor.leads import match_stage
    from monitor.warehouse import Warehouse

    day = config.parse_day(args.date)
    watchlists = config.watchlists_dir(args.watchlists)
    from monitor.watchlist import load_rights

    load_rights(watchlists)  # a broken watchlist stops before the warehouse is opened
    with Warehouse(config.db_path(args.db)) as wh:
        if day is not None and day not in wh.days():
            raise UserError(f"--date: no listings stored for {day}")
        summary = match_stage(wh, watchlists, day)
    print(f"matched {summary.listings} listings on {len(summary.days)} day(s): "
          f"{summary.referring} refer to a right, {summary.leads} leads")
    for (right_id, priority), n in sorted(summary.by_right_priority.items()):
        print(f"  {right_id:<28} {priority:<7} {n}")
    return 0


def _cmd_leads(args: argparse.Namespace) -> int:
    from monitor.warehouse import Warehouse
    from monitor.watchlist import load_rights

    if args.leads_command == "export":
        from monitor.export import export_leads

        rights = load_rights(config.watchlists_dir(args.watchlists))
        out = Path(args.out) if args.out else config.exports_dir() / f"leads-{config.today()}.csv"
        with Warehouse(config.db_path(args.db), read_only=True) as wh:
            result = export_leads(wh, rights, out, jurisdiction=args.jurisdiction,
                                  min_priority=args.min_priority, status=args.status)
        print(f"wrote {result.rows} leads to {result.path}")
        return 0
    from monitor.export import STATUSES

    if args.status not in STATUSES:
        raise UserError(f"--status: {args.status!r} is not one of {', '.join(STATUSES)}")
    with Warehouse(config.db_path(args.db)) as wh:
        before = wh.set_status(args.lead_id, args.status, args.note, args.by)
    print(f"lead {args.lead_id}: {before} → {args.status}")
    return 0


def _cmd_evidence(args: argparse.Namespace) -> int:
    from monitor.evidence import report_lines, verify_evidence

    report = verify_evidence(config.db_path(args.db), config.data_dir(args.data),
                             config.parse_day(args.date), args.source)
    for line in report_lines(report):
        print(line)
    return 1 if report.problems else 0


def _cmd_watchlist(args: argparse.Namespace) -> int:
    from monitor.watchlist import check_watchlists

    directory = config.watchlists_dir(args.watchlists)
    rights, problems = check_watchlists(directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    sellers = sum(len(r.authorized) for r in rights)
    print(f"{directory}: {len(rights)} rights, {sellers} authorized sellers, no problems")
    for right in rights:
        print(f"  {right.id:<28} {right.name}  ({len(right.authorized)} authorized)")
    return 0


COMMANDS = {
    "demo": _cmd_demo,
    "crawl": _cmd_crawl,
    "ingest": _cmd_ingest,
    "images": _cmd_images,
    "match": _cmd_match,
    "leads": _cmd_leads,
    "evidence": _cmd_evidence,
    "watchlist": _cmd_watchlist,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "error"
        print(f"monitor: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("monitor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `monitor match | head`: the reader left, nothing to report
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
