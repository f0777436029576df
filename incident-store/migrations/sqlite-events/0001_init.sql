-- Where each session's raw events are, for replay. The events themselves
-- stay in the event log, which keeps committed segments for replay (its own
-- retention: age and size caps); this index maps a session to the log
-- records that brought it new events. A row costs tens of bytes where a copy
-- of the events would cost kilobytes, and the events are written once.
CREATE TABLE event_refs (
    project   TEXT NOT NULL,
    sid       TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset"  INTEGER NOT NULL,
    -- New unique events in that record, and their time range.
    n         INTEGER NOT NULL,
    first_ts  INTEGER NOT NULL,
    max_cts   INTEGER NOT NULL,
    PRIMARY KEY (project, sid, partition, "offset")
) WITHOUT ROWID;
-- Pruning follows log retention, by position.
CREATE INDEX event_refs_position ON event_refs (partition, "offset");
