//! The embedded store on SQLite (sqlx): `ufse.db` for projects, sessions,
//! incidents and issues, `events.db` for raw events, so the two kinds of
//! write never wait on each other's lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use ufse_sessionizer::{SessionSignal, SessionSummary};

use crate::lifecycle::{after_write, Touched};
use crate::model::db;
use crate::{
    key_digest, new_key, path_template, severity, valid_project_name, Actor, AiBudget, Approval, AuditEntry,
    Claimed, ColdPathStore, EventRef, Explanation, Incident, IncidentStore, Issue, IssueDetail, IssueStatus,
    IssueTickets, Job, JobOutcome, JobState, KeyInfo, KeyStatus, ListFilter, NewJob, Project, RateLimit,
    RawEventStore, Reach, RequestState, StoreError, Ticket, TicketFilter, TicketRequest, Triggers,
    WriteBatch, WriteStats,
};

static META_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static EVENT_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite-events");

/// How a pool's commits reach the disk.
#[derive(Clone, Copy)]
enum Durability {
    /// Each commit is fsynced: it survives power loss, not only a killed
    /// process. The hot path commits in large batches, so the extra fsync
    /// per commit is cheap.
    Full,
    /// Commits are fsynced at checkpoints (and with the next full commit,
    /// which the WAL orders after them): they survive a killed process, and
    /// power loss may undo the last ones. For the cold path, whose every
    /// step is safe to run again, and which commits often and small.
    Normal,
}

async fn open_pool(
    path: &Path,
    migrator: &sqlx::migrate::Migrator,
    durability: Durability,
) -> Result<SqlitePool, StoreError> {
    let shown = path.display().to_string();
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{shown}"))
        .map_err(db("parsing the database path"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(match durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Normal => SqliteSynchronous::Normal,
        })
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    // A local file: no connection goes stale, so none is pinged before use (a round trip each).
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .test_before_acquire(false)
        .connect_with(opts)
        .await
        .map_err(db("opening the database"))?;
    migrator.run(&pool).await.map_err(|source| StoreError::Migrate { path: shown, source })?;
    Ok(pool)
}

/// Projects, keys, sessions, incidents and issues, and what the cold path
/// keeps, in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The same file, for the cold path's many small commits (see [`Durability::Normal`]).
    cold: SqlitePool,
    triggers: Arc<Triggers>,
    gate: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database at `path`; its writes
    /// queue no cold-path work until [`with_triggers`](Self::with_triggers).
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteStore {
            pool: open_pool(path, &META_MIGRATIONS, Durability::Full).await?,
            cold: open_pool(path, &META_MIGRATIONS, Durability::Normal).await?,
            triggers: Arc::default(),
            gate: Arc::default(),
        })
    }

    /// Held around every write: SQLite takes one writer at a time, and a
    /// writer waiting here is handed the lock as soon as it is free, where
    /// one waiting in SQLite sleeps in its busy handler (up to 100 ms a
    /// try), which under the cold path's many small writes would stall the
    /// hot path's. (Processes sharing the file still meet that handler.)
    async fn gate(&self) -> Option<MutexGuard<'_, ()>> {
        Some(self.gate.lock().await)
    }

    /// The store, queueing cold-path work as `triggers` say when it writes.
    pub fn with_triggers(self, triggers: Triggers) -> Self {
        SqliteStore { triggers: Arc::new(triggers), ..self }
    }

    async fn close_pools(&self) {
        self.cold.close().await;
        self.pool.close().await;
    }
}

/// Raw events in their own SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    pool: SqlitePool,
    gate: Arc<Mutex<()>>,
}

impl SqliteEventStore {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(SqliteEventStore {
            pool: open_pool(path, &EVENT_MIGRATIONS, Durability::Full).await?,
            gate: Arc::default(),
        })
    }

    /// One writer at a time (see [`SqliteStore`]'s).
    async fn gate(&self) -> Option<MutexGuard<'_, ()>> {
        Some(self.gate.lock().await)
    }
}

crate::sql::impl_stores!(SqliteStore, SqliteEventStore, Sqlite, lock = "", signals = store_signals);

// One writer at a time: a transaction that reads before it writes takes the
// write lock first, or a concurrent commit would make its upgrade fail.
crate::cold_path::impl_cold_path!(
    SqliteStore,
    Sqlite,
    pool = cold,
    begin = "BEGIN IMMEDIATE",
    lock = "",
    skip_locked = "",
    audit_order = "rowid"
);

/// Stores `signals` as incidents and counts the new ones into their issues,
/// one signal at a time (see `sql`); adds to `stats`.
async fn store_signals(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    profile: &str,
    signals: &[SessionSignal],
    triggers: &Triggers,
    stats: &mut WriteStats,
) -> Result<(), StoreError> {
    let signals = crate::sql::signals_in_lock_order(profile, signals);
    let mut project_sessions: BTreeMap<&str, u64> = BTreeMap::new();
    for (fp, id, s) in &signals {
        let sig = &s.signal;
        let evidence = serde_json::to_string(&sig.evidence).expect("a list of integers serializes");
        let inserted = sqlx::query(
            "INSERT INTO incidents
             (id, project, fingerprint, profile, kind, sid, uid, ts, end_ts, count, evidence, sel, url, seen_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(&s.project)
        .bind(fp)
        .bind(profile)
        .bind(sig.kind.as_str())
        .bind(&sig.sid)
        .bind(&s.uid)
        .bind(sig.ts)
        .bind(sig.end_ts)
        .bind(i64::from(sig.count))
        .bind(&evidence)
        .bind(&sig.sel)
        .bind(&sig.url)
        .bind(s.seen_ms)
        .execute(&mut **tx)
        .await
        .map_err(db("storing an incident"))?;
        // Counts move only with a new incident, so replays leave them exact.
        if inserted.rows_affected() == 0 {
            stats.known_incidents += 1;
            continue;
        }
        stats.new_incidents += 1;
        let template = sig.url.as_deref().map(path_template).unwrap_or_default();
        let opened = sqlx::query(
            "INSERT INTO issues
             (fingerprint, project, kind, url_template, sel, severity, first_seen, last_seen, example_url)
             VALUES ($1, $2, $3, $4, $5, 'low', $6, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(fp)
        .bind(&s.project)
        .bind(sig.kind.as_str())
        .bind(&template)
        .bind(&sig.sel)
        .bind(s.seen_ms)
        .bind(&sig.url)
        .execute(&mut **tx)
        .await
        .map_err(db("opening an issue"))?;
        if opened.rows_affected() == 1 {
            stats.new_issues += 1;
            sqlx::query(
                "INSERT INTO issue_audit (fingerprint, at_ms, from_status, to_status, actor, note)
                 VALUES ($1, $2, NULL, 'open', 'rule', $3)",
            )
            .bind(fp)
            .bind(s.seen_ms)
            .bind(format!("first incident {id}"))
            .execute(&mut **tx)
            .await
            .map_err(db("auditing an issue"))?;
        }
        let new_session = sqlx::query(
            "INSERT INTO issue_sessions (fingerprint, sid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(fp)
        .bind(&sig.sid)
        .execute(&mut **tx)
        .await
        .map_err(db("counting sessions"))?
        .rows_affected();
        let new_user = match &s.uid {
            Some(uid) => sqlx::query(
                "INSERT INTO issue_users (fingerprint, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(fp)
            .bind(uid)
            .execute(&mut **tx)
            .await
            .map_err(db("counting users"))?
            .rows_affected(),
            None => 0,
        };
        let (sessions, incidents, status, status_ms): (i64, i64, String, i64) = sqlx::query_as(
            "UPDATE issues SET incidents = incidents + 1, sessions = sessions + $1, users = users + $2,
             first_seen = CASE WHEN first_seen < $3 THEN first_seen ELSE $3 END,
             last_seen = CASE WHEN last_seen > $3 THEN last_seen ELSE $3 END
             WHERE fingerprint = $4 RETURNING sessions, incidents, status, status_ms",
        )
        .bind(new_session as i64)
        .bind(new_user as i64)
        .bind(s.seen_ms)
        .bind(fp)
        .fetch_one(&mut **tx)
        .await
        .map_err(db("updating an issue"))?;
        let total = match project_sessions.get(s.project.as_str()) {
            Some(&n) => n,
            None => {
                let n: Option<i64> = sqlx::query_scalar("SELECT sessions FROM projects WHERE name = $1")
                    .bind(&s.project)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db("counting sessions"))?;
                let n = n.unwrap_or(0) as u64;
                project_sessions.insert(s.project.as_str(), n);
                n
            }
        };
        let reach = Reach { sessions: sessions as u64, incidents: incidents as u64, project_sessions: total };
        let sev = severity(sig.kind, reach);
        sqlx::query("UPDATE issues SET severity = $1 WHERE fingerprint = $2")
            .bind(sev.as_str())
            .bind(fp)
            .execute(&mut **tx)
            .await
            .map_err(db("updating an issue"))?;
        let touched = Touched {
            fingerprint: fp,
            kind: sig.kind.as_str(),
            status: crate::cold_path::issue_status(&status)?,
            status_ms,
            opened: opened.rows_affected() == 1,
            seen_ms: s.seen_ms,
            sessions: sessions as u64,
            severity: sev,
        };
        let step = after_write(triggers, &touched);
        if step.regress {
            sqlx::query("UPDATE issues SET status = 'regressed', status_ms = $1 WHERE fingerprint = $2")
                .bind(s.seen_ms)
                .bind(fp)
                .execute(&mut **tx)
                .await
                .map_err(db("regressing an issue"))?;
            let note = format!("incident {id} seen after the resolution");
            audit(tx, fp, s.seen_ms, Some("resolved"), "regressed", "rule", &note).await?;
            stats.regressed_issues += 1;
        }
        if let Some(job) = step.job {
            stats.jobs_queued += u64::from(insert_job(tx, &job, s.seen_ms).await?);
        }
    }
    Ok(())
}
