-- Image URLs of stored listings (of one day, or every day) never tried before.
SELECT DISTINCT s.source, u.url
FROM snapshots s, unnest(s.image_urls) AS u(url)
WHERE ($day IS NULL OR s.day = $day)
  AND NOT EXISTS (SELECT 1 FROM image_fetches f WHERE f.url = u.url)
ORDER BY s.source, u.url;
