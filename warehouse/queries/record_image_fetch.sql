INSERT INTO image_fetches (url, status, reason, sha256, fetched_at)
VALUES ($url, $status, $reason, $sha256, $fetched_at)
ON CONFLICT (url) DO NOTHING;
