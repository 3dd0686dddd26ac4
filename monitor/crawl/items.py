"""The item the spider yields: one listing as read from one page.

Its fields are the listing fields of DESIGN.md ("A listing") plus `evidence`,
so the validation pipeline can hand it to `monitor.listing.parse_listing`
unchanged, and a crawled listing and a feed line go through the same checks.
"""

from __future__ import annotations

import scrapy


class ListingItem(scrapy.Item):
    """A listing as extracted; `evidence` = {sha256, warc_path, captured_at (UTC ISO), ...}.

    `rendered` travels only inside the crawl: for a page rendered in a browser
    it holds the serialized DOM and the screenshot (bytes) until
    `pipelines.RenderedEvidencePipeline` has written them as files and put
    their paths and hashes into `evidence`; it is never written out.
    """

    source = scrapy.Field()
    listing_id = scrapy.Field()
    url = scrapy.Field()
    title = scrapy.Field()
    description = scrapy.Field()
    price = scrapy.Field()
    quantity = scrapy.Field()
    seller_id = scrapy.Field()
    seller_name = scrapy.Field()
    ship_from = scrapy.Field()
    image_urls = scrapy.Field()
    crawled_at = scrapy.Field()
    evidence = scrapy.Field()
    rendered = scrapy.Field()
