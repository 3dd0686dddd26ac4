-- A lead no day supports any more (the watchlist changed, the seller was authorized) goes,
-- unless someone already worked on it: then it stays, with its history.
DELETE FROM leads
WHERE status = 'new'
  AND NOT EXISTS (SELECT 1 FROM lead_days d WHERE d.source = leads.source
                  AND d.listing_id = leads.listing_id AND d.right_id = leads.right_id)
  AND NOT EXISTS (SELECT 1 FROM triage_log t WHERE t.lead_id = leads.lead_id);
