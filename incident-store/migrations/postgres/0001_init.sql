-- The PostgreSQL form of the SQLite schema (../sqlite): the same tables
-- and meanings, with PostgreSQL's types. Times are ms since the epoch.

-- Projects and their write keys. Keys are stored as SHA-256 digests only.
CREATE TABLE projects (
    name            TEXT PRIMARY KEY,
    created_ms      BIGINT NOT NULL,
    -- Comma-separated origins allowed to send from a browser; '*' is any.
    allowed_origins TEXT NOT NULL DEFAULT '*',
    -- Rows of project_sessions, for the share of sessions an issue affects.
    sessions        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE project_keys (
    digest     TEXT PRIMARY KEY,
    project    TEXT NOT NULL REFERENCES projects(name),
    -- First characters of the key, to tell keys apart in listings.
    prefix     TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);
CREATE INDEX project_keys_project ON project_keys (project);

-- Sessions per project (severity). One row per (project, sid).
CREATE TABLE project_sessions (
    project TEXT NOT NULL,
    sid     TEXT NOT NULL,
    PRIMARY KEY (project, sid)
);

-- One row per session part; upserted while live, final when ended.
CREATE TABLE sessions (
    project     TEXT NOT NULL,
    sid         TEXT NOT NULL,
    part        BIGINT NOT NULL,
    uid         TEXT,
    start_ts    BIGINT NOT NULL,
    end_ts      BIGINT NOT NULL,
    pages       BIGINT NOT NULL,
    first_url   TEXT,
    counts      TEXT NOT NULL,
    signals     TEXT NOT NULL,
    ended       BOOLEAN NOT NULL,
    PRIMARY KEY (project, sid, part)
);

-- Issues: incidents grouped across sessions by fingerprint.
CREATE TABLE issues (
    fingerprint  TEXT PRIMARY KEY,
    project      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    url_template TEXT NOT NULL,
    sel          TEXT,
    status       TEXT NOT NULL DEFAULT 'open',
    severity     TEXT NOT NULL,
    incidents    BIGINT NOT NULL DEFAULT 0,
    sessions     BIGINT NOT NULL DEFAULT 0,
    users        BIGINT NOT NULL DEFAULT 0,
    first_seen   BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    example_url  TEXT
);
CREATE INDEX issues_project_last_seen ON issues (project, last_seen);

-- Who an issue touched, so counts of distinct sessions and users stay exact under replays.
CREATE TABLE issue_sessions (fingerprint TEXT NOT NULL, sid TEXT NOT NULL, PRIMARY KEY (fingerprint, sid));
CREATE TABLE issue_users (fingerprint TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (fingerprint, uid));

-- Every lifecycle change of an issue.
CREATE TABLE issue_audit (
    fingerprint TEXT NOT NULL,
    at_ms       BIGINT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX issue_audit_fingerprint ON issue_audit (fingerprint, at_ms);

-- Stored signals. The id is derived from content and profile.
CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    profile     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sid         TEXT NOT NULL,
    uid         TEXT,
    ts          BIGINT NOT NULL,
    end_ts      BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    evidence    TEXT NOT NULL,
    sel         TEXT,
    url         TEXT
);
CREATE INDEX incidents_project_ts ON incidents (project, ts);
CREATE INDEX incidents_project_sid ON incidents (project, sid);

-- Where each session's raw events are, for replay: the PostgreSQL form of
-- ../sqlite-events (the events stay in the event log).
CREATE TABLE event_refs (
    project    TEXT NOT NULL,
    sid        TEXT NOT NULL,
    "partition" BIGINT NOT NULL,
    "offset"   BIGINT NOT NULL,
    -- New unique events in that record, and their time range.
    n          BIGINT NOT NULL,
    first_ts   BIGINT NOT NULL,
    max_cts    BIGINT NOT NULL,
    PRIMARY KEY (project, sid, "partition", "offset")
);
-- Pruning follows log retention, by position.
CREATE INDEX event_refs_position ON event_refs ("partition", "offset");
