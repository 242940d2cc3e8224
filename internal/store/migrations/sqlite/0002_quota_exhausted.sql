-- A hold that records a budget spent at VirusTotal until its reset (VirusTotal refused
-- again right after a hold for a previous 429 ran out): every grant fails at once with
-- the reset time instead of waiting. 0 is an ordinary hold after a 429.
ALTER TABLE quota_holds ADD COLUMN exhausted INTEGER NOT NULL DEFAULT 0;
