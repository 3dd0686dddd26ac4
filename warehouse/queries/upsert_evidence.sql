INSERT INTO evidence (source, listing_id, day, kind, path, sha256, captured_at)
VALUES ($source, $listing_id, $day, $kind, $path, $sha256, $captured_at)
ON CONFLICT (source, listing_id, day, kind) DO UPDATE SET
    path = excluded.path, sha256 = excluded.sha256, captured_at = excluded.captured_at
WHERE evidence.sha256 <> excluded.sha256 OR evidence.path <> excluded.path;
