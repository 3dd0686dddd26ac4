SELECT source, listing_id, url, title, description, price, quantity, seller_id, seller_name,
       ship_from, image_urls, crawled_at
FROM snapshots WHERE day = $day ORDER BY source, listing_id;
