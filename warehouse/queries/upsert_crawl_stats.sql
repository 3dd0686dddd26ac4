INSERT INTO crawl_stats (source, day, stats, recorded_at)
VALUES ($source, $day, $stats, $now)
ON CONFLICT (source, day) DO UPDATE SET stats = excluded.stats, recorded_at = excluded.recorded_at;
