"""The crawl stage: one generic Scrapy spider, driven by a source file.

A marketplace is described by a YAML file (`sources.py`), not by code: the
spider (`spider.py`) reads search pages and listing pages as that file says,
item pipelines (`pipelines.py`) validate, de-duplicate and write the day's
listings, a downloader middleware (`middlewares.py`) keeps every listing page
as WARC evidence, and `runner.py` runs one crawl and reports what it did. A
`render: browser` source is rendered in headless Chromium through
scrapy-playwright (`browser.py`); its pages also keep their rendered DOM and a
full-page screenshot. Each crawl has a job folder (Scrapy's JOBDIR, see
`rawzone.py`), so one that is stopped resumes where it left off.

Twisted's reactor cannot restart, so a crawl runs once per Python process:
call `run_crawl` from a process of its own (`python -m monitor.crawl.runner`).
"""

from monitor.crawl.sources import SourceConfig, bundled_sources, load_source

__all__ = ["SourceConfig", "bundled_sources", "load_source"]
