-- Processor snapshots of log partitions, for processors that share a log
-- (Kafka) and must see each other's state when a partition moves. `scope`
-- names the log and the consumer group; `state` is the processor's
-- versioned snapshot, resuming at `next_offset`.
CREATE TABLE partition_state (
    scope       TEXT    NOT NULL,
    "partition" INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    state       BLOB    NOT NULL,
    PRIMARY KEY (scope, "partition")
) WITHOUT ROWID;
