//! The store on PostgreSQL (sqlx), for deployments that outgrow one
//! machine: the tables of the SQLite store with PostgreSQL's types, and
//! the same statements (`sql`), so both pass one conformance suite
//! (`tests/conformance`). Several processors may write at once; see `sql`
//! for why that is safe.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use ufse_sessionizer::SessionSummary;

use crate::model::db;
use crate::{
    key_digest, new_key, path_template, severity, valid_project_name, EventRef, Incident, IncidentStore,
    Issue, KeyInfo, KeyStatus, ListFilter, Project, RawEventStore, Reach, StoreError, WriteBatch, WriteStats,
};

/// One migration set for both stores: they share a schema, and with it
/// sqlx's table of applied migrations.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connects to `url` (`postgres://user@host:port/db`), with every table
/// in `schema` (created if missing), and migrates it.
async fn open_pool(url: &str, schema: &str) -> Result<PgPool, StoreError> {
    if !valid_project_name(schema) {
        return Err(StoreError::InvalidSchemaName(schema.to_owned()));
    }
    let opts = PgConnectOptions::from_str(url)
        .map_err(db("parsing the PostgreSQL URL"))?
        .options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(db("connecting to PostgreSQL"))?;
    // Every role opens the store as it starts, so several may create and migrate the same
    // schema at once: `CREATE SCHEMA IF NOT EXISTS` races (a unique violation), hence one lock
    // per schema, held on one connection around both (the migrations run on the pool). A
    // failure drops the pool, closing the connection and its lock.
    let mut conn = pool.acquire().await.map_err(db("connecting to PostgreSQL"))?;
    let lock = format!("ufse schema {schema}");
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(&lock)
        .execute(&mut *conn)
        .await
        .map_err(db("locking the schema for migration"))?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(&mut *conn)
        .await
        .map_err(db("creating the schema"))?;
    MIGRATIONS
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate { path: format!("PostgreSQL schema {schema}"), source })?;
    sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(&lock)
        .execute(&mut *conn)
        .await
        .map_err(db("unlocking the schema"))?;
    drop(conn);
    Ok(pool)
}

/// Projects, keys, sessions, incidents and issues in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and migrates the tables in `schema`.
    ///
    /// # Errors
    ///
    /// When the server cannot be reached or the schema migrated.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        Ok(PgStore { pool: open_pool(url, schema).await? })
    }
}

/// The raw-event index in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgEventStore {
    pool: PgPool,
}

impl PgEventStore {
    /// Connects to `url` and migrates the table in `schema`.
    ///
    /// # Errors
    ///
    /// When the server cannot be reached or the schema migrated.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        Ok(PgEventStore { pool: open_pool(url, schema).await? })
    }
}

crate::sql::impl_stores!(PgStore, PgEventStore, Postgres, lock = " FOR UPDATE");
