-- What the cold path keeps: its job queue, the tickets filed for issues and
-- the AI explanations of issues. One live job per (kind, key): enqueueing
-- what is queued already is a no-op. A claimed job is leased to a worker
-- until `locked_until`; an expired lease makes it claimable again.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_after    INTEGER NOT NULL,
    locked_by    TEXT,
    locked_until INTEGER,
    last_error   TEXT,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_due ON jobs (kind, state, run_after);

CREATE TABLE tickets (
    fingerprint TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, provider)
);

CREATE TABLE enrichments (
    fingerprint TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, model)
);
