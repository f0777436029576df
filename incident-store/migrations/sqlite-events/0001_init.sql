-- Raw events kept for replay: one row per log record and session, holding
-- that record's new unique events as JSON lines. A blob per batch stores
-- hundreds of times more events per second than a row per event.
CREATE TABLE event_chunks (
    id       INTEGER PRIMARY KEY,
    project  TEXT NOT NULL,
    sid      TEXT NOT NULL,
    -- Deterministic: the log position the events came from, so a replay
    -- after a crash writes nothing twice.
    chunk    TEXT NOT NULL,
    first_ts INTEGER NOT NULL,
    max_cts  INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    body     BLOB NOT NULL,
    UNIQUE (project, sid, chunk)
);
CREATE INDEX event_chunks_max_cts ON event_chunks (max_cts);

-- Running total of body bytes, for the disk cap without a full scan.
CREATE TABLE event_totals (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL, chunks INTEGER NOT NULL);
INSERT INTO event_totals VALUES (0, 0, 0);
