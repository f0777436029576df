//! The tables. Both are `ReplacingMergeTree`s ordered on each row's
//! identity, so a row written again (a record processed again after a
//! crash) is one row once merged; queries read them merged (`FINAL`, or a
//! last-copy-wins pass of their own), so a duplicate waiting for its merge
//! is never counted.
//!
//! - `events`: one row per stored event, identity `(project, sid, seq)`,
//!   ordered for replaying one session. The `keep` version makes merges keep
//!   the first copy, the DESIGN.md rule, should a `seq` ever be stored twice
//!   with different contents (a client retry after its session was forgotten).
//!   The event is kept whole, as validated JSON, with the columns analytics
//!   filter on beside it; the batch's `ctx` rides along because replay needs
//!   it (scroll legs are measured in the batch's viewport).
//! - `signals`: one row per signal (an incident of one profile), identity
//!   its incident id, ordered for per-page analytics: by project, page
//!   (the host + path template of DESIGN.md section 4), kind.
//!
//! Times: `ts` is the client's clock as sent (rules' time); `time` and
//! `time_ms` are skew-corrected (DESIGN.md section 3), `DateTime` for
//! monthly partitions plus milliseconds, as 18.16 has no `DateTime64`.

/// The database and tables, in creation order; `{db}` is the database.
const DDL: &[&str] = &[
    "CREATE DATABASE IF NOT EXISTS {db}",
    "CREATE TABLE IF NOT EXISTS {db}.events (
        project String,
        sid String,
        seq UInt64,
        ts Int64,
        time DateTime,
        time_ms UInt64,
        received_ms UInt64,
        skew_ms Int64,
        kind String,
        url String,
        page String,
        sel String,
        uid Nullable(String),
        ctx Nullable(String),
        event String,
        log_partition UInt32,
        log_offset UInt64,
        log_index UInt32,
        keep UInt64
    ) ENGINE = ReplacingMergeTree(keep)
    PARTITION BY toYYYYMM(time)
    ORDER BY (project, sid, seq)",
    "CREATE TABLE IF NOT EXISTS {db}.signals (
        project String,
        page String,
        kind String,
        id String,
        profile String,
        fingerprint String,
        sid String,
        uid Nullable(String),
        ts Int64,
        end_ts Int64,
        time DateTime,
        time_ms UInt64,
        count UInt32,
        evidence Array(UInt64),
        sel String,
        url String
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(time)
    ORDER BY (project, page, kind, id)",
];

/// Creates what is missing; changes nothing that exists.
pub(crate) async fn create(client: &clickhouse::Client, db: &str) -> clickhouse::error::Result<()> {
    let db = quote(db);
    for ddl in DDL {
        client.query_raw(&ddl.replace("{db}", &db)).execute().await?;
    }
    Ok(())
}

/// `name` as a ClickHouse identifier.
pub(crate) fn quote(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}
