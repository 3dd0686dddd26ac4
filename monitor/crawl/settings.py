"""Scrapy settings for the listing crawl (a settings module, as `scrapy startproject` makes).

The runner loads this module at "project" priority and adds what varies per
run: MONITOR_DAY_DIR, JOBDIR (`<data>/jobs/<source>/<day>`, so an interrupted
crawl resumes from its queue) and, for a `render: browser` source only, the
scrapy-playwright download handler and its Chromium launch options
(`monitor.crawl.browser.playwright_settings`): HTTP sources keep Scrapy's own,
faster handler. The crawl is meant to be a polite, identifiable,
robots-respecting visitor: enforcement evidence is worth little if it was
gathered by ignoring a site's rules.
"""

BOT_NAME = "gi-monitor"

# Say who we are; no URL, so nothing points at a particular deployment.
USER_AGENT = "gi-monitor/0.1 (+GI enforcement monitoring; robots-respecting)"
ROBOTSTXT_OBEY = True

# AutoThrottle adapts the delay to the server's latency; it is off unless
# enabled. A short start delay keeps localhost (demo, tests) fast, and the
# throttle backs off on its own against a slow real marketplace.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4

# Marketplaces shed load with 429/503; a listing missed today is a lead missed.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# ...but not at once: a retried request waits 1 s, 2 s, 4 s (middlewares.RetryBackoffMiddleware).
RETRY_BACKOFF_BASE = 1.0
RETRY_BACKOFF_MAX = 30.0
DOWNLOAD_TIMEOUT = 30
# A listing page is small; a many-megabyte response is not one.
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024

# No way into the running process: neither the telnet console nor Scrapy
# 2.19's remote-control HTTP server (which executes posted Python code).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

# REQUEST_FINGERPRINTER_IMPLEMENTATION is gone in Scrapy 2.19 (the "2.7"
# fingerprinter is the only one left), so it is not set here.

# The asyncio reactor is Scrapy's default and what scrapy-playwright needs for
# `render: browser` (it refuses Scrapy's reactorless mode); stated so that
# nobody switches it off by accident.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

DOWNLOADER_MIDDLEWARES = {
    # Before OffsiteMiddleware (50) and RobotsTxtMiddleware (100): a forbidden
    # host gets no request at all, not even for its robots.txt.
    "monitor.crawl.middlewares.BlockPrivateHostsMiddleware": 40,
    # Before OffsiteMiddleware: the robots.txt of an image_domains host is read.
    "monitor.crawl.middlewares.ImageHostRobotsTxtMiddleware": 45,
    # Below RetryMiddleware (550) and HttpCompressionMiddleware (590): it sees
    # the final, decoded response, the bytes the spider parses.
    "monitor.crawl.middlewares.WarcEvidenceMiddleware": 540,
    # A retried request comes back through the chain from the scheduler; it
    # waits here before it reaches the downloader.
    "monitor.crawl.middlewares.RetryBackoffMiddleware": 560,
}

ITEM_PIPELINES = {
    "monitor.crawl.pipelines.ValidateListingPipeline": 100,
    "monitor.crawl.pipelines.DedupeListingPipeline": 200,
    "monitor.crawl.pipelines.RenderedEvidencePipeline": 300,
    # Listing images, kept as served in <data>/images by content (FILES_STORE,
    # set by the runner; see pipelines.ListingImagesPipeline).
    "monitor.crawl.pipelines.ListingImagesPipeline": 400,
    "monitor.crawl.pipelines.JsonLinesWriterPipeline": 800,
}

FEED_EXPORT_ENCODING = "utf-8"

# The content-addressed image store, <data>/images: set by the runner; without
# it the images pipeline derives it from MONITOR_DAY_DIR (or the data dir).
FILES_STORE = None
# No redirects for images: a 3xx is recorded as an error, so an image request
# never leaves the hosts the source allows.
MEDIA_ALLOW_REDIRECTS = False
# An image larger than this is not kept (the image stage's cap too: 10 MB).
MONITOR_IMAGE_MAXSIZE = 10 * 1024 * 1024

# Set by the runner: <data>/raw/<source>/<YYYY-MM-DD>. Without it the
# components fall back to monitor.config.data_dir().
MONITOR_DAY_DIR = None
# Set by the runner with JOBDIR: where interrupted runs keep their part of the
# day files, and this run's part name (see monitor.crawl.rawzone.RunParts).
MONITOR_JOB_PARTS = None
MONITOR_RUN_PART = None

# `render: browser`: how long a page may take to show its listing (the
# source's `wait_for`, a selector) before it is kept as it is, in ms.
MONITOR_BROWSER_WAIT_MS = 15_000
