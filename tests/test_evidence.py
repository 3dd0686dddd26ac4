"""`monitor evidence verify`: every kept file re-hashed against the warehouse, end to end.

Both demo sources are crawled over real HTTP (the JS shop in a real
Chromium), loaded into a fresh warehouse with `monitor ingest`, and checked:
all evidence verifies; then a DOM file is altered, the HTTP source's WARC
truncated and a screenshot deleted, and the command names each problem on a
line of its own and exits 1.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from monitor.crawl.browser import chromium_problem
from monitor.crawl.sources import load_source
from monitor.demo.server import DemoMarketplace
from monitor.evidence import (
    CHANGED,
    MISSING,
    OK,
    EvidenceItem,
    gzip_problem,
    verify_evidence,
    verify_items,
    warc_index,
)

REPO = Path(__file__).resolve().parents[1]
MONITOR = str(Path(sys.executable).with_name("monitor"))
DAY = date(2026, 11, 21)
CHROMIUM_MISSING = chromium_problem()


def run(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, "PYTHONPATH": str(REPO)})


def crawl(demo: DemoMarketplace, name: str, root: Path, *terms: str) -> dict[str, Any]:
    text = Path(load_source(name).path).read_text(encoding="utf-8")
    source = root / f"{name}.yaml"
    source.write_text(text.replace("http://127.0.0.1:8700", demo.base_url), encoding="utf-8")
    args = [sys.executable, "-m", "monitor.crawl.runner", "--source", str(source),
            "--date", DAY.isoformat(), "--data", str(root / "data"),
            "-s", "AUTOTHROTTLE_ENABLED=false"]
    for term in terms:
        args += ["--term", term]
    proc = run(*args, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo crawled (HTTP source always, browser source when Chromium is here)."""
    root = tmp_path_factory.mktemp("evidence")
    with DemoMarketplace(port=0) as demo:
        out = {"root": root, "http": crawl(demo, "demo-mall", root, "枸杞")}
        if not CHROMIUM_MISSING:
            out["browser"] = crawl(demo, "demo-js-mall", root, "贺兰山", "盐池")
    yield out


def load(crawled: dict[str, Any], tmp_path: Path, *kinds: str) -> tuple[Path, Path]:
    """A private copy of the raw zone loaded into a new warehouse; (db, raw copy root)."""
    copy = tmp_path / "data"
    shutil.copytree(crawled["root"] / "data", copy)
    db = tmp_path / "w.duckdb"
    for kind in kinds:
        listings = Path(crawled[kind]["listings_path"])
        # the evidence paths point at the original raw zone: point them at the copy
        text = listings.read_text(encoding="utf-8").replace(
            str(crawled["root"] / "data"), str(copy)
        )
        feed = tmp_path / f"{kind}.jsonl"
        feed.write_text(text, encoding="utf-8")
        proc = run(MONITOR, "--db", str(db), "ingest", str(feed), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    return db, copy


def verify(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(MONITOR, "--db", str(db), "evidence", "verify", *extra, cwd=db.parent)


def day_dir(root: Path, source: str) -> Path:
    return root / "raw" / source / DAY.isoformat()


def test_http_evidence_verifies_then_a_truncated_warc_is_reported(
    crawled: dict[str, Any], tmp_path: Path
) -> None:
    db, copy = load(crawled, tmp_path, "http")
    items = crawled["http"]["stats"]["items"]
    ok = verify(db)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().splitlines() == [
        f"checked {items} evidence items in 1 files: {items} ok, 0 changed, 0 missing"
    ]
    warc = day_dir(copy, "demo-mall") / "pages.warc.gz"
    data = warc.read_bytes()
    warc.write_bytes(data[: len(data) // 2])
    bad = verify(db)
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    problems, summary = lines[:-1], lines[-1]
    assert problems and all(line.startswith("CHANGED page demo-mall/") for line in problems)
    assert all(str(warc) in line and "the WARC is damaged: EOFError" in line for line in problems)
    assert summary == (
        f"checked {items} evidence items in 1 files: {items - len(problems)} ok, "
        f"{len(problems)} changed, 0 missing"
    )
    assert 0 < len(problems) < items  # the records before the cut still verify
    assert "Traceback" not in bad.stderr


@pytest.mark.browser
@pytest.mark.skipif(bool(CHROMIUM_MISSING),
                    reason=f"render: browser needs Chromium: {CHROMIUM_MISSING}")
def test_tampered_dom_truncated_warc_and_deleted_screenshot_are_reported(
    crawled: dict[str, Any], tmp_path: Path
) -> None:
    db, copy = load(crawled, tmp_path, "http", "browser")
    http_items = crawled["http"]["stats"]["items"]
    js_items = crawled["browser"]["stats"]["items"]
    total = http_items + 3 * js_items  # page, dom and screenshot per browser listing
    ok = verify(db)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.strip().endswith(f"{total} ok, 0 changed, 0 missing")
    assert verify(db, "--source", "demo-js-mall").stdout.strip().startswith(
        f"checked {3 * js_items} evidence items in {2 * js_items + 1} files"
    )

    js_day = day_dir(copy, "demo-js-mall")
    dom = sorted((js_day / "dom").iterdir())[0]
    dom.write_bytes(dom.read_bytes().replace(b"</h1>", b" </h1>", 1))  # one byte more
    shot = sorted((js_day / "screenshots").iterdir())[-1]
    shot.unlink()
    warc = day_dir(copy, "demo-mall") / "pages.warc.gz"
    warc.write_bytes(warc.read_bytes()[:200])  # the warcinfo record at most

    bad = verify(db)
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    dom_lines = [line for line in lines if line.startswith("CHANGED dom ")]
    shot_lines = [line for line in lines if line.startswith("MISSING screenshot ")]
    page_lines = [line for line in lines if line.startswith("CHANGED page demo-mall/")]
    assert len(dom_lines) == 1 and f"demo-js-mall/{dom.stem} " in dom_lines[0]
    assert str(dom) in dom_lines[0] and "sha256 is" in dom_lines[0]
    assert len(shot_lines) == 1 and str(shot) in shot_lines[0]
    assert shot_lines[0].endswith("file not found")
    assert len(page_lines) == http_items  # nothing of the truncated WARC is left to check
    assert len(lines) == 2 + http_items + 1
    assert lines[-1] == (
        f"checked {total} evidence items in {2 + 2 * js_items} files: "
        f"{total - http_items - 2} ok, {http_items + 1} changed, 1 missing"
    )
    # the browser source's WARC is untouched: its records still verify
    js_only = verify(db, "--source", "demo-js-mall", "--date", DAY.isoformat())
    assert js_only.stdout.strip().splitlines()[-1].endswith("1 changed, 1 missing")
    assert verify(db, "--date", "2020-01-01").stdout.strip() == (
        "checked 0 evidence items in 0 files: 0 ok, 0 changed, 0 missing"
    )


def test_verify_needs_a_warehouse(tmp_path: Path) -> None:
    proc = verify(tmp_path / "none.duckdb")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"monitor: error: {tmp_path / 'none.duckdb'}: no warehouse here yet "
        "(run 'monitor demo' or an ingest)"
    ]


# -- the module's parts -------------------------------------------------------------


def write_warc(path: Path, pages: dict[str, bytes]) -> None:
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for uri, body in pages.items():
            headers = StatusAndHeaders("200 OK", [("Content-Length", str(len(body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=headers,
            ))


def test_warc_index_and_a_changed_record(tmp_path: Path) -> None:
    warc = tmp_path / "p.warc.gz"
    pages = {"http://h/item/1": b"one", "http://h/item/2": b"two"}
    write_warc(warc, pages)
    index, error = warc_index(warc)
    assert error == ""
    assert index == {u: [hashlib.sha256(b).hexdigest()] for u, b in pages.items()}

    def item(url: str, sha: str) -> EvidenceItem:
        return EvidenceItem("s", url[-1], DAY, "page", str(warc), sha, url)

    good = item("http://h/item/1", hashlib.sha256(b"one").hexdigest())
    altered = item("http://h/item/2", hashlib.sha256(b"TWO").hexdigest())
    absent = item("http://h/item/3", "0" * 64)
    report = verify_items([good, altered, absent])
    assert [f.status for f in report.findings] == [OK, CHANGED, CHANGED]
    assert "hashes to" in report.findings[1].detail
    assert "no record of http://h/item/3" in report.findings[2].detail
    assert report.files == 1 and len(report.problems) == 2
    gone = EvidenceItem("s", "x", DAY, "dom", str(tmp_path / "nope.html"), "0" * 64)
    assert verify_items([gone]).findings[0].status == MISSING


def test_garbage_and_truncated_warcs_are_reported_not_raised(tmp_path: Path) -> None:
    garbage = tmp_path / "g.warc.gz"
    garbage.write_bytes(gzip.compress(b"not a warc at all\r\n\r\n"))
    item = EvidenceItem("s", "1", DAY, "page", str(garbage), "0" * 64, "http://h/item/1")
    finding = verify_items([item]).findings[0]
    assert finding.status == CHANGED and "http://h/item/1" in finding.detail
    assert str(finding).startswith("CHANGED page s/1 2026-11-21: ")

    cut = tmp_path / "c.warc.gz"
    write_warc(cut, {"http://h/item/1": b"one" * 1000, "http://h/item/2": b"two" * 1000})
    cut.write_bytes(cut.read_bytes()[:-20])
    assert gzip_problem(cut).startswith("EOFError")
    item = EvidenceItem("s", "2", DAY, "page", str(cut), "0" * 64, "http://h/item/2")
    finding = verify_items([item]).findings[0]
    assert finding.status == CHANGED and "the WARC is damaged: EOFError" in finding.detail


def test_verify_evidence_on_an_empty_warehouse(tmp_path: Path) -> None:
    from monitor.warehouse import Warehouse

    db = tmp_path / "w.duckdb"
    Warehouse(db).close()
    report = verify_evidence(db, tmp_path / "data")
    assert report.findings == [] and report.problems == []
    assert report.summary() == "checked 0 evidence items in 0 files: 0 ok, 0 changed, 0 missing"
