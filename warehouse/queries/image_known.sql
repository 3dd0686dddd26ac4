SELECT 1 FROM images WHERE sha256 = $sha256;
