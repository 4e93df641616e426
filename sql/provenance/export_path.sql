SELECT path FROM splits.exports WHERE dataset = $dataset AND version = $version LIMIT 1
