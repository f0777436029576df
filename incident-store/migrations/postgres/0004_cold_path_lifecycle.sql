-- The cold path as the ticket generator runs it: the PostgreSQL form of
-- ../sqlite/0005, where each table is described.
DROP TABLE jobs;
DROP TABLE tickets;
DROP TABLE enrichments;

-- Work for the cold path's workers. `state` is `queued` (due at
-- `run_after`), `claimed` (leased to `locked_by` until `locked_until`; a
-- lease that expires makes the job claimable again, as its worker died) or
-- `dead` (given up after its attempts, with `last_error`). A finished job
-- is deleted. At most one queued job per (kind, key): queueing what is
-- queued already changes nothing.
CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_after    BIGINT NOT NULL,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_ms   BIGINT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_one_queued ON jobs (kind, key) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (state, run_after, id);

-- Tickets filed for issues: one per issue, tracker and round (0 the first,
-- then one more per follow-up filed after a regression). Written once the
-- tracker answered; `remote_state` is the tracker's state as last seen
-- (open, done or canceled).
CREATE TABLE tickets (
    fingerprint         TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    round               BIGINT NOT NULL,
    project             TEXT    NOT NULL,
    remote_id           TEXT    NOT NULL,
    key                 TEXT    NOT NULL,
    url                 TEXT    NOT NULL,
    remote_state        TEXT    NOT NULL,
    created_ms          BIGINT NOT NULL,
    synced_ms           BIGINT NOT NULL,
    commented_ms        BIGINT,
    commented_incidents BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (fingerprint, provider, round)
);
CREATE UNIQUE INDEX tickets_remote ON tickets (provider, remote_id);
CREATE INDEX tickets_project_created ON tickets (project, created_ms);

-- A ticket the policy asked for, before it is filed: `held` (the readiness
-- check failed: `reasons`), `pending` (ready, awaiting approval by a person
-- or by rule within the rate limit), `approved` (its filing jobs are queued),
-- `rejected` or `filed`. `draft` is the ticket as it would be
-- filed (JSON).
CREATE TABLE ticket_requests (
    fingerprint TEXT    NOT NULL,
    round       BIGINT NOT NULL,
    project     TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    reasons     TEXT    NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    decided_ms  BIGINT,
    decided_by  TEXT,
    -- Last: it is large, and columns after it would be read through its overflow pages.
    draft       TEXT    NOT NULL,
    PRIMARY KEY (fingerprint, round)
);
CREATE INDEX ticket_requests_state ON ticket_requests (state, project);
-- The automation's rate limit: a token bucket per project, refilled at
-- `[cold_path] tickets_per_hour` and holding at most as many.
CREATE TABLE ticket_budget (
    project    TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- The current explanation of each issue (JSON `result`), by the configured
-- interpreter or, with `fallback` saying why, by the offline one. A new
-- explanation is asked for only when the evidence, the model or the
-- prompt version changed.
CREATE TABLE explanations (
    fingerprint   TEXT    PRIMARY KEY,
    interpreter   TEXT    NOT NULL,
    model         TEXT    NOT NULL,
    prompt        TEXT    NOT NULL,
    evidence_hash TEXT    NOT NULL,
    fallback      TEXT,
    input_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    created_ms    BIGINT NOT NULL,
    result        TEXT    NOT NULL
);

-- Calls to an AI provider and the tokens they used, per project and UTC day.
CREATE TABLE ai_usage (
    project TEXT    NOT NULL,
    day     BIGINT NOT NULL,
    calls   BIGINT NOT NULL,
    tokens  BIGINT NOT NULL,
    PRIMARY KEY (project, day)
);

-- When an issue's status last changed: a new incident seen after its
-- resolution regresses it, one from before does not.
ALTER TABLE issues ADD COLUMN status_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX issues_status ON issues (status);

-- Skew-corrected time of each incident (NULL for those stored before), for
-- sessions within a policy's window; incidents by issue, for samples.
ALTER TABLE incidents ADD COLUMN seen_ms BIGINT;
CREATE INDEX incidents_fingerprint ON incidents (fingerprint, seen_ms);

-- Audit entries in the order they were written (SQLite has its rowid).
ALTER TABLE issue_audit ADD COLUMN seq BIGSERIAL;

-- The hot path's actor is named as every other actor is.
UPDATE issue_audit SET actor = 'rule' WHERE actor = 'hot-path';
