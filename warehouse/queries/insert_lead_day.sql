INSERT INTO lead_days (source, listing_id, right_id, day, seller_id, priority, score, reasons,
                       jurisdiction, matched_at)
VALUES ($source, $listing_id, $right_id, $day, $seller_id, $priority, $score, $reasons,
        $jurisdiction, $matched_at);
