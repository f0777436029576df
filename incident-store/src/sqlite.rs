//! The embedded store on SQLite (sqlx): `ufse.db` for projects, sessions,
//! incidents and issues, `events.db` for raw events, so the two kinds of
//! write never wait on each other's lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use ufse_sessionizer::SessionSummary;

use crate::model::db;
use crate::{
    key_digest, new_key, path_template, severity, valid_project_name, EventRef, Incident, IncidentStore,
    Issue, KeyInfo, KeyStatus, ListFilter, Project, RawEventStore, Reach, StoreError, WriteBatch, WriteStats,
};

static META_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static EVENT_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite-events");

async fn open_pool(path: &Path, migrator: &sqlx::migrate::Migrator) -> Result<SqlitePool, StoreError> {
    let shown = path.display().to_string();
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{shown}"))
        .map_err(db("parsing the database path"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a committed transaction survives power loss, not only a
        // killed process; the hot path commits in large batches, so the
        // extra fsync per commit is cheap.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await
        .map_err(db("opening the database"))?;
    migrator.run(&pool).await.map_err(|source| StoreError::Migrate { path: shown, source })?;
    Ok(pool)
}

/// Projects, keys, sessions, incidents and issues in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteStore { pool: open_pool(path, &META_MIGRATIONS).await? })
    }
}

/// Raw events in their own SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    pool: SqlitePool,
}

impl SqliteEventStore {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteEventStore { pool: open_pool(path, &EVENT_MIGRATIONS).await? })
    }
}

crate::sql::impl_stores!(SqliteStore, SqliteEventStore, Sqlite, lock = "");
