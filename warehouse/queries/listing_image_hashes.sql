-- The hashed images of every listing on one day, in the listing's order.
SELECT s.source, s.listing_id, u.position, u.url, i.sha256, i.phash, i.dhash,
       i.phash_mirror, i.segments
FROM snapshots s,
     unnest(s.image_urls) WITH ORDINALITY AS u(url, position)
JOIN image_fetches f ON f.url = u.url AND f.status = 'ok'
JOIN images i ON i.sha256 = f.sha256
WHERE s.day = $day
ORDER BY s.source, s.listing_id, u.position;
