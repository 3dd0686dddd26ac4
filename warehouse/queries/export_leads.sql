-- Leads with the listing as it stood on the lead's last day and that day's page hash
-- (the rendered DOM for a browser page, else the response body). Without a status
-- filter every lead not dismissed is exported.
SELECT l.lead_id, l.right_id, l.priority, l.score, l.reasons, l.source, l.listing_id,
       s.url, s.title, s.seller_id, s.seller_name, s.ship_from, l.jurisdiction, s.price,
       l.first_seen, l.last_seen, l.status,
       coalesce((SELECT e.sha256 FROM evidence e
                 WHERE e.source = l.source AND e.listing_id = l.listing_id
                   AND e.day = l.last_seen AND e.kind IN ('dom', 'page')
                 ORDER BY e.kind = 'dom' DESC LIMIT 1), '') AS evidence_sha256
FROM leads l
JOIN snapshots s ON s.source = l.source AND s.listing_id = l.listing_id AND s.day = l.last_seen
WHERE (CASE WHEN $status IS NULL THEN l.status <> 'dismissed' ELSE l.status = $status END)
  AND ($jurisdiction IS NULL
       OR replace(coalesce(l.jurisdiction, ''), ' ', '') LIKE '%' || $jurisdiction || '%')
  AND (CASE l.priority WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END) >= $min_rank
ORDER BY CASE l.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
         l.score DESC, l.last_seen DESC, l.lead_id;
