-- Every kept evidence file (or WARC record) with the listing URL that names its record,
-- optionally for one day and/or one source; grouped by file so a WARC is read once.
SELECT e.source, e.listing_id, e.day, e.kind, e.path, e.sha256, coalesce(s.url, '') AS url
FROM evidence e
LEFT JOIN snapshots s ON s.source = e.source AND s.listing_id = e.listing_id AND s.day = e.day
WHERE ($day IS NULL OR e.day = $day)
  AND ($source IS NULL OR e.source = $source)
ORDER BY e.path, e.source, e.listing_id, e.day, e.kind;
