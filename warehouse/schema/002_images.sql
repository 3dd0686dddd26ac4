-- 002: listing images, fetched once each and kept by content hash, with perceptual hashes.

-- Every image URL ever tried, and what came of it (fetched once: a URL is not tried again).
CREATE TABLE image_fetches (
    url          VARCHAR PRIMARY KEY,
    status       VARCHAR NOT NULL,        -- ok | error | refused
    reason       VARCHAR NOT NULL,        -- '' when ok; why not otherwise
    sha256       VARCHAR,                 -- content hash when ok
    fetched_at   TIMESTAMPTZ NOT NULL
);

-- One row per distinct image content.
CREATE TABLE images (
    sha256        VARCHAR PRIMARY KEY,
    path          VARCHAR NOT NULL,
    format        VARCHAR NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    bytes         BIGINT NOT NULL,
    phash         UBIGINT NOT NULL,
    dhash         UBIGINT NOT NULL,
    phash_mirror  UBIGINT NOT NULL,
    segments      UBIGINT[] NOT NULL,     -- crop-resistant segment hashes
    hashed_at     TIMESTAMPTZ NOT NULL
);
