-- PostgreSQL twin of ../sqlite/0214_gateway.sql (BYTEA for BLOB); keep the two in step.
-- Keys of the VirusTotal gateway (vtsoar serve's /api/v3): each stands in for the
-- real API key of one connection. Only the SHA-256 of a key is kept.
CREATE TABLE gateway_keys (
    name       TEXT   NOT NULL PRIMARY KEY,
    key_hash   BYTEA  NOT NULL UNIQUE,
    connection TEXT   NOT NULL,
    priority   TEXT   NOT NULL,          -- 'interactive' or 'batch'
    max_wait   BIGINT NOT NULL,          -- microseconds a request may wait for the budget
    max_age    BIGINT NOT NULL,          -- microseconds: the oldest cached answer served
    created_at BIGINT NOT NULL           -- Unix microseconds
);

-- Who spent each unit of a budget ('gateway:NAME', 'user:NAME', 'enrichment', 'cli',
-- ...; '' for units recorded before requesters were).
ALTER TABLE quota_ledger ADD COLUMN requester TEXT NOT NULL DEFAULT '';
