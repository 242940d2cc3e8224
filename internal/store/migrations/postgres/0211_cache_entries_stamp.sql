-- An index that answers "when was the entry fetched" by itself (cache.Validator's
-- question, asked for every answer a process keeps in memory), without reading the
-- entry's row, whose fetch time comes after its body.
CREATE INDEX cache_entries_stamp ON cache_entries (server, kind, id, fetched_at);
