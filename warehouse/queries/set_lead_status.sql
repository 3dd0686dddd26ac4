UPDATE leads SET status = $status, updated_at = $now WHERE lead_id = $lead_id;
