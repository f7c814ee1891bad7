"""Data: batches and splits, datasets (fetched from pinned registry packages into the cache, or
generated), text vocabularies, series tables and audio front ends. Imports only rnnkit.io."""
