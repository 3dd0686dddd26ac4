"""End to end: the `monitor` command run as a subprocess on real files."""

from __future__ import annotations

import csv
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from monitor.export import COLUMNS

from .conftest import REPO, WATCHLISTS

MONITOR = str(Path(sys.executable).with_name("monitor"))


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MONITOR, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(WATCHLISTS, tmp_path / "watchlists")
    return tmp_path


def table_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in ("snapshots", "evidence", "lead_days", "leads", "crawl_stats")}
    finally:
        con.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "the CSV must start with a UTF-8 BOM"
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == COLUMNS
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def expected_demo_leads() -> dict[tuple[str, str], str]:
    out = {}
    for name in ("monitor/demo/catalog.jsonl", "monitor/demo/catalog-js.jsonl"):
        for line in (REPO / name).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            for exp in rec["expect"]:
                if exp["lead"]:
                    out[(rec["listing_id"], exp["right"])] = exp["priority"]
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_end_to_end_twice(workdir: Path) -> None:
    port = str(free_port())
    first = run(workdir, "demo", "--port", port, "--date", "2026-11-21")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "listing pages" in out and "leads CSV:" in out
    for right in ("ningxia-goji", "yanchi-tan-sheep", "helan-mountain-east-wine"):
        assert right in out
    csv_path = workdir / "exports" / "leads-2026-11-21.csv"
    rows = read_csv(csv_path)
    db = workdir / "warehouse" / "monitor.duckdb"
    counts = table_counts(db)
    assert counts["snapshots"] >= 60 and counts["leads"] == len(rows) > 0

    # The leads are the ones the catalog's labels say, with the labelled priority.
    expected = expected_demo_leads()
    con = duckdb.connect(str(db), read_only=True)
    crawled = {r[0] for r in con.execute("SELECT listing_id FROM snapshots").fetchall()}
    con.close()
    got = {(r["listing_id"], r["right_id"]): r["priority"] for r in rows}
    want = {k: v for k, v in expected.items() if k[0] in crawled}
    assert got == want

    # Highest priority first, reasons and evidence on every row.
    order = {"high": 0, "medium": 1, "low": 2}
    assert [order[r["priority"]] for r in rows] == sorted(order[r["priority"]] for r in rows)
    assert all(r["reasons"] and len(r["evidence_sha256"]) == 64 for r in rows)

    second = run(workdir, "demo", "--port", port, "--date", "2026-11-21")
    assert second.returncode == 0, second.stderr
    assert table_counts(db) == counts
    assert read_csv(csv_path) == rows

    # The evidence verifies, and still does once the data folder is moved
    # (handed over whole): the crawl's evidence is stored relative to it.
    verified = run(workdir, "evidence", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    summary = verified.stdout.strip().splitlines()[-1]
    assert summary.endswith(f"{counts['evidence']} ok, 0 changed, 0 missing"), summary
    (workdir / "handed-over").mkdir()
    (workdir / "data").rename(workdir / "handed-over" / "data")
    moved = run(workdir, "--data", "handed-over/data", "evidence", "verify")
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert moved.stdout.strip().splitlines()[-1] == summary
    gone = run(workdir, "evidence", "verify")  # the old place is empty now
    assert gone.returncode == 1
    assert gone.stdout.strip().splitlines()[-1].endswith(f"{counts['evidence']} missing")


def test_ingest_reports_bad_lines_and_keeps_the_rest(workdir: Path) -> None:
    good = {"source": "feed-x", "listing_id": "f-1", "url": "https://feed.example/p/f-1",
            "title": "宁夏枸杞 特级 500g", "price": 20, "quantity": "500g", "seller_id": "u-1",
            "seller_name": "某店", "ship_from": "河北 邢台",
            "crawled_at": "2026-11-20T10:00:00+08:00"}
    feed = workdir / "feed.jsonl"
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        json.dumps({**good, "listing_id": "f-2", "title": ""}, ensure_ascii=False),
        json.dumps({**good, "listing_id": "f-3", "crawled_at": "yesterday"}),
        json.dumps({**good, "listing_id": "f-4", "price": "cheap"}),
        json.dumps({**good, "listing_id": "f-5", "title": "=HYPERLINK(\"x\") 宁夏枸杞"},
                   ensure_ascii=False),
    ]
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run(workdir, "ingest", str(feed))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert [e.split(":")[1] for e in errors] == ["2", "3", "4", "5"]
    assert "title" in errors[1] and "crawled_at" in errors[2] and "price" in errors[3]
    assert "loaded 2 listings" in proc.stdout
    db = workdir / "warehouse" / "monitor.duckdb"
    assert table_counts(db)["snapshots"] == 2

    # A file that cannot be used changes nothing already stored.
    missing = run(workdir, "ingest", str(workdir / "nope.jsonl"))
    assert "nope.jsonl" in one_line_error(missing)
    binary = workdir / "bad.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage\n")
    proc = run(workdir, "ingest", str(binary))
    assert proc.returncode == 1 and "bad.jsonl:1" in proc.stderr
    assert table_counts(db)["snapshots"] == 2

    # Match, export: the formula is neutralized, filters work, triage is logged.
    assert run(workdir, "match").returncode == 0
    out = workdir / "leads.csv"
    assert run(workdir, "leads", "export", "--out", str(out)).returncode == 0
    rows = read_csv(out)
    assert {r["listing_id"] for r in rows} == {"f-1", "f-5"}
    f5 = next(r for r in rows if r["listing_id"] == "f-5")
    assert f5["title"].startswith("'=")
    assert f5["priority"] == "high" and f5["evidence_sha256"] == ""
    assert f5["jurisdiction"].startswith("河北")

    run(workdir, "leads", "export", "--out", str(out), "--jurisdiction", "宁夏")
    assert read_csv(out) == []
    triage = run(workdir, "leads", "triage", f5["lead_id"], "--status", "dismissed",
                 "--note", "test listing", "--by", "officer-1")
    assert triage.returncode == 0, triage.stderr
    run(workdir, "leads", "export", "--out", str(out))
    assert {r["listing_id"] for r in read_csv(out)} == {"f-1"}
    run(workdir, "leads", "export", "--out", str(out), "--status", "dismissed")
    assert [r["status"] for r in read_csv(out)] == ["dismissed"]
    con = duckdb.connect(str(db), read_only=True)
    log = con.execute("SELECT from_status, to_status, note, by_name FROM triage_log").fetchall()
    con.close()
    assert log == [("new", "dismissed", "test listing", "officer-1")]

    # Re-matching keeps the status and adds nothing.
    before = table_counts(db)
    assert run(workdir, "match", "--date", "2026-11-20").returncode == 0
    assert table_counts(db) == before
    assert "unknown-lead" in one_line_error(
        run(workdir, "leads", "triage", "unknown-lead", "--status", "confirmed"))
    assert "--status" in one_line_error(
        run(workdir, "leads", "triage", f5["lead_id"], "--status", "maybe"))


def test_watchlist_check_names_file_and_line(workdir: Path) -> None:
    ok = run(workdir, "watchlist", "check")
    assert ok.returncode == 0 and "3 rights" in ok.stdout
    wl = workdir / "watchlists"
    path = wl / "ningxia-goji.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("kind: geographical_indication", "kind: brand"),
                    encoding="utf-8")
    proc = run(workdir, "watchlist", "check")
    line_no = text.splitlines().index("kind: geographical_indication") + 1
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"ningxia-goji.yaml:{line_no}: field 'kind'" in proc.stderr
    path.write_text(text + "price_floor: [oops\n", encoding="utf-8")
    proc = run(workdir, "watchlist", "check")
    assert "ningxia-goji.yaml:" in proc.stderr and "YAML" in proc.stderr
    path.write_text(text, encoding="utf-8")

    auth = wl / "authorized" / "yanchi-tan-sheep.csv"
    auth.write_text(auth.read_text(encoding="utf-8")
                    + "demo-mall,shop-x,某店,L-1,2026-13-01,2027-01-01,\n", encoding="utf-8")
    proc = run(workdir, "watchlist", "check")
    bad_line = len(auth.read_text(encoding="utf-8").splitlines())
    assert f"yanchi-tan-sheep.csv:{bad_line}:" in proc.stderr

    # Matching refuses a broken watchlist before touching the warehouse.
    match = run(workdir, "match")
    assert "yanchi-tan-sheep.csv" in one_line_error(match)
    assert not (workdir / "warehouse" / "monitor.duckdb").exists()


def test_bad_arguments_are_one_line_errors(workdir: Path) -> None:
    assert "--date" in one_line_error(run(workdir, "match", "--date", "21/11/2026"))
    assert "no-such-source" in one_line_error(run(workdir, "crawl", "no-such-source"))
