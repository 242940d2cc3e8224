-- PostgreSQL twin of ../sqlite/0001_init.sql (BYTEA for BLOB); keep the two in step.
-- Connections: API keys sealed by internal/secret, never in clear.
CREATE TABLE connections (
    name                 TEXT    NOT NULL PRIMARY KEY,
    sealed_api_key       BYTEA   NOT NULL,
    server_url           TEXT    NOT NULL DEFAULT '',
    quota                TEXT    NOT NULL DEFAULT '',
    proxy                TEXT    NOT NULL DEFAULT '',
    reputation_checks    TEXT    NOT NULL DEFAULT '[]', -- JSON array of kinds
    health_check_minutes INTEGER NOT NULL DEFAULT 0,
    sites                TEXT    NOT NULL DEFAULT '[]', -- JSON array
    users                TEXT    NOT NULL DEFAULT '[]', -- JSON array
    created_at           BIGINT  NOT NULL,             -- Unix microseconds
    updated_at           BIGINT  NOT NULL
);

-- Quota ledger: one row per request unit spent on a budget (an API key on a server).
CREATE TABLE quota_ledger (
    budget TEXT   NOT NULL,
    at     BIGINT NOT NULL -- Unix microseconds
);
CREATE INDEX quota_ledger_budget_at ON quota_ledger (budget, at);

-- A budget held after a 429 until the given time.
CREATE TABLE quota_holds (
    budget TEXT   NOT NULL PRIMARY KEY,
    until  BIGINT NOT NULL
);

-- Processes waiting for a unit, so that less urgent work elsewhere lets them go first.
CREATE TABLE quota_waiters (
    budget     TEXT    NOT NULL,
    waiter     TEXT    NOT NULL,
    priority   INTEGER NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (budget, waiter)
);

-- Answer cache, per server; every id an object is known by is an alias row.
CREATE TABLE cache_entries (
    server     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    aliases    TEXT    NOT NULL DEFAULT '[]', -- JSON array, for Entry.Aliases
    body       BYTEA,
    not_found  INTEGER NOT NULL DEFAULT 0,
    fetched_at BIGINT  NOT NULL,
    PRIMARY KEY (server, kind, id)
);
CREATE INDEX cache_entries_fetched ON cache_entries (server, fetched_at);

CREATE TABLE cache_aliases (
    server TEXT NOT NULL,
    kind   TEXT NOT NULL,
    alias  TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (server, kind, alias)
);
CREATE INDEX cache_aliases_target ON cache_aliases (server, kind, id);

CREATE TABLE cache_counters (
    server TEXT   NOT NULL PRIMARY KEY,
    hits   BIGINT NOT NULL DEFAULT 0,
    misses BIGINT NOT NULL DEFAULT 0
);
