-- The cold path as the ticket generator runs it (docs/cold-path.md): the
-- job queue with leases and a dead-letter state, tickets kept in sync with
-- their trackers, ticket requests awaiting readiness or approval, issue
-- explanations and the AI budget. The tables of 0004 were never written
-- to, and are replaced.
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
    updated_ms   INTEGER NOT NULL
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
    round               INTEGER NOT NULL,
    project             TEXT    NOT NULL,
    remote_id           TEXT    NOT NULL,
    key                 TEXT    NOT NULL,
    url                 TEXT    NOT NULL,
    remote_state        TEXT    NOT NULL,
    created_ms          INTEGER NOT NULL,
    synced_ms           INTEGER NOT NULL,
    commented_ms        INTEGER,
    commented_incidents INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (fingerprint, provider, round)
) WITHOUT ROWID;
CREATE UNIQUE INDEX tickets_remote ON tickets (provider, remote_id);
CREATE INDEX tickets_project_created ON tickets (project, created_ms);

-- A ticket the policy asked for, before it is filed: `held` (the readiness
-- check failed: `reasons`), `pending` (ready, awaiting approval by a person
-- or by rule within the rate limit), `approved` (its filing jobs are queued),
-- `rejected` or `filed`. `draft` is the ticket as it would be
-- filed (JSON).
CREATE TABLE ticket_requests (
    fingerprint TEXT    NOT NULL,
    round       INTEGER NOT NULL,
    project     TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    reasons     TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    decided_ms  INTEGER,
    decided_by  TEXT,
    -- Last: it is large, and columns after it would be read through its overflow pages.
    draft       TEXT    NOT NULL,
    PRIMARY KEY (fingerprint, round)
) WITHOUT ROWID;
CREATE INDEX ticket_requests_state ON ticket_requests (state, project);
-- The automation's rate limit: a token bucket per project, refilled at
-- `[cold_path] tickets_per_hour` and holding at most as many.
CREATE TABLE ticket_budget (
    project    TEXT PRIMARY KEY,
    tokens     REAL NOT NULL,
    updated_ms INTEGER NOT NULL
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
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    result        TEXT    NOT NULL
) WITHOUT ROWID;

-- Calls to an AI provider and the tokens they used, per project and UTC day.
CREATE TABLE ai_usage (
    project TEXT    NOT NULL,
    day     INTEGER NOT NULL,
    calls   INTEGER NOT NULL,
    tokens  INTEGER NOT NULL,
    PRIMARY KEY (project, day)
) WITHOUT ROWID;

-- When an issue's status last changed: a new incident seen after its
-- resolution regresses it, one from before does not.
ALTER TABLE issues ADD COLUMN status_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX issues_status ON issues (status);

-- Skew-corrected time of each incident (NULL for those stored before), for
-- sessions within a policy's window; incidents by issue, for samples.
ALTER TABLE incidents ADD COLUMN seen_ms INTEGER;
CREATE INDEX incidents_fingerprint ON incidents (fingerprint, seen_ms);

-- The hot path's actor is named as every other actor is.
UPDATE issue_audit SET actor = 'rule' WHERE actor = 'hot-path';
