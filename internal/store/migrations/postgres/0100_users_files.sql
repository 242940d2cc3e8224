-- PostgreSQL twin of ../sqlite/0100_users_files.sql (BYTEA for BLOB); keep the two in step.
-- Users of the REST API; only the SHA-256 of each bearer token is kept.
CREATE TABLE users (
    name       TEXT   NOT NULL PRIMARY KEY,
    role       TEXT   NOT NULL,
    sites      TEXT   NOT NULL DEFAULT '[]', -- JSON array; ["*"] for every site
    token_hash BYTEA  NOT NULL UNIQUE,
    created_at BIGINT NOT NULL             -- Unix microseconds
);

-- Uploaded files; the content is stored beside the database, addressed by sha256.
CREATE TABLE files (
    id         TEXT   NOT NULL PRIMARY KEY,
    sha256     TEXT   NOT NULL,
    size       BIGINT NOT NULL,
    name       TEXT   NOT NULL DEFAULT '',
    source     TEXT   NOT NULL,
    site       TEXT   NOT NULL DEFAULT '',
    uploader   TEXT   NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX files_sha256 ON files (sha256);
