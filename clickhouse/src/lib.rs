//! Raw events and signals in ClickHouse: the scaled-out home of what the
//! embedded mode keeps in its log, for session replay and analytics
//! (DESIGN.md section 6).
//!
//! Processors write every new unique event and every signal here, through
//! the `clickhouse` crate's inserters, in batches that end at the latest at
//! each snapshot, so offsets are committed only after the rows are stored.
//! Records processed again after a crash write the same rows again; the
//! tables are `ReplacingMergeTree`s keyed on each row's identity, and every
//! query here reads them as if merged, so nothing counts twice.
//!
//! The schema runs on ClickHouse 18.16 (Debian 12's package) and later: no
//! `DateTime64`, `LowCardinality`, `TTL`, `CODEC`, `Map` or `Bool`, and no
//! server-side query parameters (values are bound and escaped client-side).
//!
//! - [`ClickHouseConfig`]: the `[clickhouse]` section.
//! - [`ClickHouse`]: a connection: opened by writers, which create the
//!   schema, or connected by readers, which create nothing; reads sessions back.
//! - [`Archive`]: a processor's batched writer.
//! - `schema`: the tables, as DDL.

mod archive;
mod read;
mod schema;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use archive::Archive;

/// The `[clickhouse]` section. An empty `url` means raw events stay in the
/// embedded log, indexed by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// The HTTP interface, `http://host:8123`; empty: ClickHouse is not used.
    pub url: String,
    /// Database holding UFSE's tables (created if missing).
    pub database: String,
    /// User, if not `default`.
    pub user: Option<String>,
    /// Password of `user`.
    pub password: Option<String>,
    /// Rows one INSERT holds at most.
    pub insert_max_rows: u64,
    /// How long an INSERT stays open at most: how soon stored events show in
    /// replays. Every snapshot also ends it.
    pub insert_interval_ms: u64,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: String::new(),
            database: "ufse".into(),
            user: None,
            password: None,
            insert_max_rows: 200_000,
            insert_interval_ms: 2_000,
        }
    }
}

impl ClickHouseConfig {
    /// Whether ClickHouse is configured.
    pub fn enabled(&self) -> bool {
        !self.url.is_empty()
    }

    fn client(&self) -> clickhouse::Client {
        let mut c = clickhouse::Client::default()
            .with_url(&self.url)
            // 18.16 lacks what the client's validation asks the server for.
            .with_validation(false);
        if let Some(u) = &self.user {
            c = c.with_user(u);
        }
        if let Some(p) = &self.password {
            c = c.with_password(p);
        }
        c
    }

    fn insert_interval(&self) -> Duration {
        Duration::from_millis(self.insert_interval_ms)
    }
}

/// What went wrong talking to ClickHouse.
#[derive(Debug, thiserror::Error)]
#[error("clickhouse at {url}: {doing}: {source}")]
pub struct ClickHouseError {
    url: String,
    doing: &'static str,
    #[source]
    source: clickhouse::error::Error,
}

/// One ClickHouse database holding UFSE's tables.
#[derive(Clone)]
pub struct ClickHouse {
    config: ClickHouseConfig,
    client: clickhouse::Client,
}

impl ClickHouse {
    /// Connects, and creates the database and tables where they are missing:
    /// for what writes (`ufse serve`, `ufse migrate`).
    ///
    /// # Errors
    ///
    /// When the server cannot be reached or refuses the schema.
    pub async fn open(config: &ClickHouseConfig) -> Result<ClickHouse, ClickHouseError> {
        let ch = ClickHouse::connect(config);
        schema::create(&config.client(), &config.database).await.map_err(ch.error("creating the schema"))?;
        Ok(ch)
    }

    /// Connects to the database as it is, creating nothing: for what only
    /// reads (a replay from the CLI), which may run as a user without the
    /// right to create tables. Connecting itself does not reach the
    /// server; the first query does.
    pub fn connect(config: &ClickHouseConfig) -> ClickHouse {
        ClickHouse { config: config.clone(), client: config.client().with_database(&config.database) }
    }

    pub(crate) fn error(
        &self,
        doing: &'static str,
    ) -> impl Fn(clickhouse::error::Error) -> ClickHouseError + '_ {
        move |source| ClickHouseError { url: self.config.url.clone(), doing, source }
    }

    /// A writer for one processor.
    pub fn archive(&self, profile: &str) -> Archive {
        Archive::new(self, profile)
    }
}
