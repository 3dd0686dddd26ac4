"""The bundled demo marketplace: a real HTTP server on 127.0.0.1 with invented listings.

It exists so that `monitor demo`, the Scrapy spider and the tests can exercise the
whole crawl (robots.txt, search pages, pagination, JSON-LD detail pages, images)
without touching a real marketplace. Every listing, shop name and licence in
`catalog.jsonl` is invented; its `expect` field records the labels LEAD_RULES.md
gives each listing, so the demo doubles as an end-to-end check of the matcher.
"""
