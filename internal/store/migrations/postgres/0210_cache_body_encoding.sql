-- How a cached answer's body is stored: '' as VirusTotal sent it, 's2' compressed with
-- S2 (github.com/klauspost/compress/s2, block format), which takes a fraction of the
-- pages (and of their writes) and gives back the same bytes.
ALTER TABLE cache_entries ADD COLUMN body_encoding TEXT NOT NULL DEFAULT '';
