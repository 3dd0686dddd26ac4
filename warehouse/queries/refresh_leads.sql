-- Derive leads from lead_days: first and last day seen, and the verdict of the last day.
-- Status and triage history are never touched here.
INSERT INTO leads (lead_id, source, listing_id, right_id, first_seen, last_seen, priority,
                   score, reasons, jurisdiction, status, created_at, updated_at)
SELECT 'L' || substr(md5(source || '|' || listing_id || '|' || right_id), 1, 11),
       source, listing_id, right_id, min(day), max(day),
       arg_max(priority, day), arg_max(score, day), arg_max(reasons, day),
       arg_max(jurisdiction, day), 'new', $now, $now
FROM lead_days
GROUP BY source, listing_id, right_id
ON CONFLICT (lead_id) DO UPDATE SET
    first_seen = excluded.first_seen, last_seen = excluded.last_seen,
    priority = excluded.priority, score = excluded.score, reasons = excluded.reasons,
    jurisdiction = excluded.jurisdiction, updated_at = excluded.updated_at
WHERE leads.first_seen <> excluded.first_seen OR leads.last_seen <> excluded.last_seen
   OR leads.priority <> excluded.priority OR leads.score <> excluded.score
   OR leads.reasons <> excluded.reasons
   OR leads.jurisdiction IS DISTINCT FROM excluded.jurisdiction;
