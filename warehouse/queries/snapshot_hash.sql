SELECT content_sha256 FROM snapshots WHERE source = $source AND listing_id = $listing_id AND day = $day;
