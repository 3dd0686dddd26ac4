SELECT listing_id, right_id, priority FROM leads ORDER BY listing_id, right_id;
