-- PostgreSQL twin of ../sqlite/0213_console_sessions.sql (BYTEA for BLOB); keep the two in step.
-- The web console's sessions: the SHA-256 of the random id its cookie holds, the user
-- signed in, when it began and when it was last used (Unix microseconds). A session is
-- over after its idle time or its lifetime (vtsoar serve --session-idle,
-- --session-max-age), at sign-out, and when its user is removed or given a new token.
CREATE TABLE console_sessions (
    id_hash    BYTEA  NOT NULL PRIMARY KEY,
    user_name  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_name);
