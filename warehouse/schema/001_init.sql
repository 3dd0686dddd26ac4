-- 001: listings as daily snapshots, their evidence, leads with history and triage.
-- Applied once by monitor.warehouse on open; never edit an applied file, add 002_*.sql.

CREATE TABLE snapshots (
    source          VARCHAR NOT NULL,
    listing_id      VARCHAR NOT NULL,
    day             DATE NOT NULL,          -- crawl day in Asia/Shanghai
    url             VARCHAR,
    title           VARCHAR NOT NULL,
    description     VARCHAR,
    price           DOUBLE,
    quantity        VARCHAR,
    seller_id       VARCHAR NOT NULL,
    seller_name     VARCHAR,
    ship_from       VARCHAR,
    image_urls      VARCHAR[],
    crawled_at      TIMESTAMPTZ NOT NULL,
    content_sha256  VARCHAR NOT NULL,       -- hash of the listing record: what the page said
    loaded_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, listing_id, day)
);

-- One row per kept file of a snapshot: the page (WARC record), rendered DOM, screenshot.
CREATE TABLE evidence (
    source       VARCHAR NOT NULL,
    listing_id   VARCHAR NOT NULL,
    day          DATE NOT NULL,
    kind         VARCHAR NOT NULL,          -- page | dom | screenshot
    path         VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL,
    captured_at  TIMESTAMPTZ,
    PRIMARY KEY (source, listing_id, day, kind)
);

-- The matcher's verdict for one listing, right and day; leads are derived from these.
CREATE TABLE lead_days (
    source        VARCHAR NOT NULL,
    listing_id    VARCHAR NOT NULL,
    right_id      VARCHAR NOT NULL,
    day           DATE NOT NULL,
    seller_id     VARCHAR NOT NULL,
    priority      VARCHAR NOT NULL,
    score         DOUBLE NOT NULL,
    reasons       VARCHAR NOT NULL,
    jurisdiction  VARCHAR,
    matched_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, listing_id, right_id, day)
);

-- One lead per listing and right, kept across days, with its triage status.
CREATE TABLE leads (
    lead_id       VARCHAR PRIMARY KEY,
    source        VARCHAR NOT NULL,
    listing_id    VARCHAR NOT NULL,
    right_id      VARCHAR NOT NULL,
    first_seen    DATE NOT NULL,
    last_seen     DATE NOT NULL,
    priority      VARCHAR NOT NULL,
    score         DOUBLE NOT NULL,
    reasons       VARCHAR NOT NULL,
    jurisdiction  VARCHAR,
    status        VARCHAR NOT NULL DEFAULT 'new',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (source, listing_id, right_id)
);

-- Append-only: who changed a lead's status, when, and why.
CREATE SEQUENCE triage_seq START 1;
CREATE TABLE triage_log (
    seq          BIGINT PRIMARY KEY DEFAULT nextval('triage_seq'),
    lead_id      VARCHAR NOT NULL,
    changed_at   TIMESTAMPTZ NOT NULL,
    from_status  VARCHAR NOT NULL,
    to_status    VARCHAR NOT NULL,
    note         VARCHAR,
    by_name      VARCHAR
);

-- Crawl statistics per source and day (the last run of that day).
CREATE TABLE crawl_stats (
    source       VARCHAR NOT NULL,
    day          DATE NOT NULL,
    stats        JSON NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, day)
);
