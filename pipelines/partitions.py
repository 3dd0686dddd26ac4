"""How the work is cut: one partition per Beijing day, and per source where it crawls.

Enforcement works on Beijing days (monitor.config.TZ), so the days are cut in
Asia/Shanghai. `end_offset=1` makes today's partition exist today: the 02:00
crawl is the crawl *of* today (its listings carry today's date), and without
the offset Dagster would only create that partition tomorrow (DESIGN.md,
"Known pitfalls").

The source dimension is static: partitions must be known when the definitions
load. By default it is every source file bundled with the package; set
MONITOR_SOURCES to a list of source YAML paths or bundled names (separated by
the OS path separator, ':' on Linux) to watch other marketplaces. A partition
key is the `name` inside the file, because that is the raw zone's directory.
"""

from __future__ import annotations

import os
from functools import cache

from dagster import DailyPartitionsDefinition, MultiPartitionsDefinition, StaticPartitionsDefinition

from monitor.config import TZ
from monitor.crawl.sources import bundled_sources, load_source

START_DATE = "2026-09-01"
DAY = "day"
SOURCE = "source"
SOURCES_ENV = "MONITOR_SOURCES"


@cache
def source_refs() -> dict[str, str]:
    """Source name → what `monitor.crawl.runner --source` accepts (bundled name or YAML path).

    Read once per code location load; a bad file fails the load with the
    one-line UserError of monitor.crawl.sources, naming the file and line.
    """
    configured = os.environ.get(SOURCES_ENV, "").strip()
    if not configured:
        return {name: name for name in bundled_sources()}
    refs: dict[str, str] = {}
    for ref in filter(None, (part.strip() for part in configured.split(os.pathsep))):
        refs[load_source(ref).name] = ref
    return refs


daily_partitions = DailyPartitionsDefinition(
    start_date=START_DATE,
    timezone=str(TZ),
    end_offset=1,
)

source_partitions = StaticPartitionsDefinition(sorted(source_refs()))

crawl_partitions = MultiPartitionsDefinition({DAY: daily_partitions, SOURCE: source_partitions})
