-- PostgreSQL twin of ../sqlite/0200_events_health.sql (an identity column for AUTOINCREMENT); keep the two in step.
-- Events of the System Reputation Check and their artifacts.
CREATE TABLE events (
    id              TEXT    NOT NULL PRIMARY KEY,
    site            TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,             -- pending, enriching, done
    risk_level_code INTEGER NOT NULL DEFAULT 4,   -- highest risk of the finished artifacts
    artifact_count  INTEGER NOT NULL,
    finished_count  INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,             -- Unix microseconds
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX events_site_created ON events (site, created_at);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE event_artifacts (
    event_id        TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    idx             INTEGER NOT NULL,
    type            TEXT    NOT NULL,
    value           TEXT    NOT NULL,
    status          TEXT    NOT NULL,             -- pending, done, error
    risk_level_code INTEGER NOT NULL DEFAULT 4,
    risk_reason     TEXT    NOT NULL DEFAULT '',
    connection      TEXT    NOT NULL DEFAULT '',
    object_id       TEXT    NOT NULL DEFAULT '',  -- VirusTotal's id of the answer
    error           TEXT    NOT NULL DEFAULT '',
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (event_id, idx)
);

-- Results of connection health checks (test-connection), newest last.
CREATE TABLE health_checks (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection  TEXT    NOT NULL,
    at          BIGINT  NOT NULL,
    healthy     INTEGER NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    message     TEXT    NOT NULL DEFAULT '',
    quota_left  TEXT    NOT NULL DEFAULT '{}'     -- JSON object: window -> requests left
);
CREATE INDEX health_checks_connection ON health_checks (connection, seq);
