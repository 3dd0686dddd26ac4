SELECT status, reason, count(*) FROM image_fetches GROUP BY status, reason ORDER BY status, reason;
