-- A re-run of a day replaces that day's snapshot only when the page said something else.
INSERT INTO snapshots (source, listing_id, day, url, title, description, price, quantity,
                       seller_id, seller_name, ship_from, image_urls, crawled_at,
                       content_sha256, loaded_at)
VALUES ($source, $listing_id, $day, $url, $title, $description, $price, $quantity,
        $seller_id, $seller_name, $ship_from, $image_urls, $crawled_at,
        $content_sha256, $loaded_at)
ON CONFLICT (source, listing_id, day) DO UPDATE SET
    url = excluded.url, title = excluded.title, description = excluded.description,
    price = excluded.price, quantity = excluded.quantity, seller_id = excluded.seller_id,
    seller_name = excluded.seller_name, ship_from = excluded.ship_from,
    image_urls = excluded.image_urls, crawled_at = excluded.crawled_at,
    content_sha256 = excluded.content_sha256, loaded_at = excluded.loaded_at
WHERE snapshots.content_sha256 <> excluded.content_sha256;
