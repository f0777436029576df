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
