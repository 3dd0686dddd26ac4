-- Hashed images of listings by given sellers (up to a day), to recognise copies of their photos.
SELECT s.source, s.seller_id, s.listing_id, s.day, s.title, s.description, u.url, i.sha256,
       i.phash, i.dhash, i.phash_mirror, i.segments
FROM snapshots s,
     unnest(s.image_urls) AS u(url)
JOIN image_fetches f ON f.url = u.url AND f.status = 'ok'
JOIN images i ON i.sha256 = f.sha256
WHERE s.day <= $day AND list_contains($sellers, s.source || '|' || s.seller_id);
