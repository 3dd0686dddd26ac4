SELECT lead_id, status FROM leads WHERE lead_id = $lead_id;
