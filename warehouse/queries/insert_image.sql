INSERT INTO images (sha256, path, format, width, height, bytes, phash, dhash, phash_mirror,
                    segments, hashed_at)
VALUES ($sha256, $path, $format, $width, $height, $bytes, $phash, $dhash, $phash_mirror,
        $segments, $hashed_at)
ON CONFLICT (sha256) DO NOTHING;
