INSERT INTO triage_log (lead_id, changed_at, from_status, to_status, note, by_name)
VALUES ($lead_id, $now, $from_status, $to_status, $note, $by_name);
