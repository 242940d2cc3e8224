-- Runs: commands asked over REST with Prefer: respond-async, worked by a job of the
-- queue, each input's result kept as it finishes.
CREATE TABLE runs (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_name    TEXT    NOT NULL,          -- who asked: the run is theirs (and admins')
    command      TEXT    NOT NULL,
    connection   TEXT    NOT NULL,
    request      TEXT    NOT NULL,          -- the prepared request's JSON form
    state        TEXT    NOT NULL,          -- queued, running, waiting, done, cancelled, failed
    inputs_total INTEGER NOT NULL,
    inputs_done  INTEGER NOT NULL,
    resumes_at   BIGINT  NOT NULL,          -- while waiting: when the budget next allows a request (0: none)
    error        TEXT    NOT NULL,          -- why a failed run could not run
    job_id       BIGINT  NOT NULL,          -- the queue's job
    worker       TEXT    NOT NULL,          -- the worker that holds it ('' when none)
    created_at   BIGINT  NOT NULL,          -- Unix microseconds
    updated_at   BIGINT  NOT NULL,
    finished_at  BIGINT  NOT NULL           -- 0 until done, cancelled or failed
);
CREATE INDEX runs_by_user ON runs (user_name, created_at, id);
CREATE INDEX runs_by_created ON runs (created_at, id);

-- The result of each finished input of a run (command.Result's JSON, compressed as
-- cache bodies are).
CREATE TABLE run_results (
    run_id   TEXT    NOT NULL,
    idx      INTEGER NOT NULL,
    result   BLOB    NOT NULL,
    encoding TEXT    NOT NULL,
    PRIMARY KEY (run_id, idx)
);

-- Who waits for a unit, and since when, for `vtsoar quota` and the console.
ALTER TABLE quota_waiters ADD COLUMN requester TEXT NOT NULL DEFAULT '';
ALTER TABLE quota_waiters ADD COLUMN since BIGINT NOT NULL DEFAULT 0;
