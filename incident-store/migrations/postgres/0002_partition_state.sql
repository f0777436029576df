-- Processor snapshots of log partitions (see ../sqlite/0003): processors
-- sharing a Kafka topic hand sessions over through these rows.
CREATE TABLE partition_state (
    scope       TEXT   NOT NULL,
    "partition" BIGINT NOT NULL,
    next_offset BIGINT NOT NULL,
    state       BYTEA  NOT NULL,
    PRIMARY KEY (scope, "partition")
);
