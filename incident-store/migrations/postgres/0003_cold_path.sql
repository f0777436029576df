-- The cold path's job queue, tickets and enrichments (see ../sqlite/0004).
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT   NOT NULL,
    key          TEXT   NOT NULL,
    payload      TEXT   NOT NULL,
    state        TEXT   NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_after    BIGINT NOT NULL,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_due ON jobs (kind, state, run_after);

CREATE TABLE tickets (
    fingerprint TEXT   NOT NULL,
    provider    TEXT   NOT NULL,
    external_id TEXT   NOT NULL,
    url         TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, provider)
);

CREATE TABLE enrichments (
    fingerprint TEXT   NOT NULL,
    model       TEXT   NOT NULL,
    summary     TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, model)
);
