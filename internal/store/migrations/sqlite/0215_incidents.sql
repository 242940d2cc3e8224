-- Incidents: a site's case, which holds events (events.incident_id) and attachments
-- (files.incident_id). Its risk is the highest of its events' that have a finished
-- artifact, kept up to date in the transaction that finishes an artifact.
CREATE TABLE incidents (
    id              TEXT    NOT NULL PRIMARY KEY,
    site            TEXT    NOT NULL DEFAULT '',
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    creator         TEXT    NOT NULL DEFAULT '',
    risk_level_code INTEGER NOT NULL DEFAULT 4,
    created_at      BIGINT  NOT NULL,             -- Unix microseconds
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX incidents_site_created ON incidents (site, created_at);
CREATE INDEX incidents_created ON incidents (created_at);

ALTER TABLE events ADD COLUMN incident_id TEXT NOT NULL DEFAULT '';
CREATE INDEX events_incident ON events (incident_id, created_at) WHERE incident_id <> '';

-- A file artifact posted as an uploaded file's id: the file (its sha256 is the value).
ALTER TABLE event_artifacts ADD COLUMN file_id TEXT NOT NULL DEFAULT '';
CREATE INDEX event_artifacts_file ON event_artifacts (file_id) WHERE file_id <> '';

-- An incident's attachment; files are listed newest first, by site.
ALTER TABLE files ADD COLUMN incident_id TEXT NOT NULL DEFAULT '';
CREATE INDEX files_incident ON files (incident_id, created_at) WHERE incident_id <> '';
CREATE INDEX files_site_created ON files (site, created_at);
CREATE INDEX files_created ON files (created_at);
