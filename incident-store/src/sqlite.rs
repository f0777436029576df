//! The embedded store on SQLite (sqlx): `ufse.db` for projects, sessions,
//! incidents and issues, `events.db` for raw events, so the two kinds of
//! write never wait on each other's lock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use ufse_sessionizer::SessionSummary;

use crate::model::db;
use crate::{
    incident_id, issue_fingerprint, key_digest, new_key, path_template, severity, valid_project_name,
    EventRef, Incident, IncidentStore, Issue, KeyInfo, KeyStatus, ListFilter, Project, RawEventStore, Reach,
    StoreError, WriteBatch, WriteStats,
};

/// Rows per multi-row statement (11 columns at most: far under SQLite's
/// 32,766 bound parameters).
const ROWS_PER_STATEMENT: usize = 500;

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

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Mints a key for `project` in `tx`; only its digest and prefix are stored.
async fn insert_key(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    project: &str,
    now_ms: i64,
) -> Result<String, StoreError> {
    let key = new_key();
    sqlx::query("INSERT INTO project_keys (digest, project, prefix, created_ms) VALUES (?, ?, ?, ?)")
        .bind(key_digest(&key))
        .bind(project)
        .bind(&key[..9])
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map_err(db("creating a key"))?;
    Ok(key)
}

fn split_origins(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect()
}

impl IncidentStore for SqliteStore {
    async fn create_project(&self, name: &str, now_ms: i64) -> Result<String, StoreError> {
        if !valid_project_name(name) {
            return Err(StoreError::InvalidProjectName(name.to_owned()));
        }
        let mut tx = self.pool.begin().await.map_err(db("creating a project"))?;
        let inserted = sqlx::query("INSERT OR IGNORE INTO projects (name, created_ms) VALUES (?, ?)")
            .bind(name)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(db("creating a project"))?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::ProjectExists(name.to_owned()));
        }
        let key = insert_key(&mut tx, name, now_ms).await?;
        tx.commit().await.map_err(db("creating a project"))?;
        Ok(key)
    }

    async fn ensure_default_project(&self, now_ms: i64) -> Result<Option<String>, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects")
            .fetch_one(&self.pool)
            .await
            .map_err(db("counting projects"))?;
        if n > 0 {
            return Ok(None);
        }
        match self.create_project("default", now_ms).await {
            Ok(key) => Ok(Some(key)),
            // Another process created it between the count and the insert.
            Err(StoreError::ProjectExists(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.name, p.created_ms, p.allowed_origins, p.sessions, k.prefix, k.created_ms AS kc, k.revoked_ms
             FROM projects p LEFT JOIN project_keys k ON k.project = p.name
             ORDER BY p.name, k.created_ms, k.prefix",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing projects"))?;
        let mut out: Vec<Project> = Vec::new();
        for r in rows {
            let name: String = r.get("name");
            if out.last().is_none_or(|p| p.name != name) {
                out.push(Project {
                    name,
                    created_ms: r.get("created_ms"),
                    allowed_origins: split_origins(r.get("allowed_origins")),
                    sessions: r.get::<i64, _>("sessions") as u64,
                    keys: Vec::new(),
                });
            }
            if let Some(prefix) = r.get::<Option<String>, _>("prefix") {
                let p = out.last_mut().expect("pushed above");
                p.keys.push(KeyInfo { prefix, created_ms: r.get("kc"), revoked_ms: r.get("revoked_ms") });
            }
        }
        Ok(out)
    }

    async fn set_allowed_origins(&self, project: &str, origins: &[String]) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE projects SET allowed_origins = ? WHERE name = ?")
            .bind(origins.join(","))
            .bind(project)
            .execute(&self.pool)
            .await
            .map_err(db("setting allowed origins"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchProject(project.to_owned()));
        }
        Ok(())
    }

    async fn rotate_key(&self, project: &str, now_ms: i64) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db("rotating a key"))?;
        sqlx::query("UPDATE project_keys SET revoked_ms = COALESCE(revoked_ms, ?) WHERE project = ?")
            .bind(now_ms)
            .bind(project)
            .execute(&mut *tx)
            .await
            .map_err(db("rotating a key"))?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM projects WHERE name = ?")
            .bind(project)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("rotating a key"))?;
        if exists.is_none() {
            return Err(StoreError::NoSuchProject(project.to_owned()));
        }
        let key = insert_key(&mut tx, project, now_ms).await?;
        tx.commit().await.map_err(db("rotating a key"))?;
        Ok(key)
    }

    async fn revoke_key(&self, key: &str, now_ms: i64) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE project_keys SET revoked_ms = COALESCE(revoked_ms, ?) WHERE digest = ?")
                .bind(now_ms)
                .bind(key_digest(key))
                .execute(&self.pool)
                .await
                .map_err(db("revoking a key"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchKey(key.to_owned()));
        }
        Ok(())
    }

    async fn lookup_key(&self, digest: &str) -> Result<KeyStatus, StoreError> {
        let row = sqlx::query(
            "SELECT k.project, k.revoked_ms, p.allowed_origins FROM project_keys k
             JOIN projects p ON p.name = k.project WHERE k.digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("looking up a key"))?;
        Ok(match row {
            None => KeyStatus::Unknown,
            Some(r) if r.get::<Option<i64>, _>("revoked_ms").is_some() => KeyStatus::Revoked,
            Some(r) => KeyStatus::Active {
                project: r.get("project"),
                allowed_origins: split_origins(r.get("allowed_origins")),
            },
        })
    }

    async fn write(&self, profile: &str, batch: &WriteBatch) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        if batch.signals.is_empty() && batch.summaries.is_empty() {
            return Ok(stats);
        }
        let mut tx = self.pool.begin().await.map_err(db("storing results"))?;
        // Count the projects' sessions first, so severities below see them.
        let mut sids: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for s in &batch.summaries {
            sids.entry(s.project.as_str()).or_default().insert(s.sid.as_str());
        }
        for (project, sids) in &sids {
            let sids: Vec<&str> = sids.iter().copied().collect();
            for rows in sids.chunks(ROWS_PER_STATEMENT) {
                let mut q =
                    QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO project_sessions (project, sid) ");
                q.push_values(rows, |mut b, sid| {
                    b.push_bind(*project).push_bind(*sid);
                });
                let new = q.build().execute(&mut *tx).await.map_err(db("counting sessions"))?.rows_affected();
                if new > 0 {
                    sqlx::query("UPDATE projects SET sessions = sessions + ? WHERE name = ?")
                        .bind(new as i64)
                        .bind(*project)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("counting sessions"))?;
                }
            }
        }
        let mut project_sessions: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &batch.signals {
            let sig = &s.signal;
            let id = incident_id(profile, &s.project, sig);
            let fp = issue_fingerprint(&s.project, sig.kind, sig.url.as_deref(), sig.sel.as_deref());
            let evidence = serde_json::to_string(&sig.evidence).expect("a list of integers serializes");
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO incidents
                 (id, project, fingerprint, profile, kind, sid, uid, ts, end_ts, count, evidence, sel, url)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&id)
            .bind(&s.project)
            .bind(&fp)
            .bind(profile)
            .bind(sig.kind.as_str())
            .bind(&sig.sid)
            .bind(&s.uid)
            .bind(sig.ts)
            .bind(sig.end_ts)
            .bind(sig.count)
            .bind(&evidence)
            .bind(&sig.sel)
            .bind(&sig.url)
            .execute(&mut *tx)
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
                "INSERT OR IGNORE INTO issues
                 (fingerprint, project, kind, url_template, sel, severity, first_seen, last_seen, example_url)
                 VALUES (?, ?, ?, ?, ?, 'low', ?, ?, ?)",
            )
            .bind(&fp)
            .bind(&s.project)
            .bind(sig.kind.as_str())
            .bind(&template)
            .bind(&sig.sel)
            .bind(s.seen_ms)
            .bind(s.seen_ms)
            .bind(&sig.url)
            .execute(&mut *tx)
            .await
            .map_err(db("opening an issue"))?;
            if opened.rows_affected() == 1 {
                stats.new_issues += 1;
                sqlx::query(
                    "INSERT INTO issue_audit (fingerprint, at_ms, from_status, to_status, actor, note)
                     VALUES (?, ?, NULL, 'open', 'hot-path', ?)",
                )
                .bind(&fp)
                .bind(s.seen_ms)
                .bind(format!("first incident {id}"))
                .execute(&mut *tx)
                .await
                .map_err(db("auditing an issue"))?;
            }
            let new_session =
                sqlx::query("INSERT OR IGNORE INTO issue_sessions (fingerprint, sid) VALUES (?, ?)")
                    .bind(&fp)
                    .bind(&sig.sid)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("counting sessions"))?
                    .rows_affected();
            let new_user = match &s.uid {
                Some(uid) => {
                    sqlx::query("INSERT OR IGNORE INTO issue_users (fingerprint, uid) VALUES (?, ?)")
                        .bind(&fp)
                        .bind(uid)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("counting users"))?
                        .rows_affected()
                }
                None => 0,
            };
            let (sessions, incidents): (i64, i64) = sqlx::query_as(
                "UPDATE issues SET incidents = incidents + 1, sessions = sessions + ?, users = users + ?,
                 first_seen = MIN(first_seen, ?), last_seen = MAX(last_seen, ?)
                 WHERE fingerprint = ? RETURNING sessions, incidents",
            )
            .bind(new_session as i64)
            .bind(new_user as i64)
            .bind(s.seen_ms)
            .bind(s.seen_ms)
            .bind(&fp)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("updating an issue"))?;
            let total = match project_sessions.get(s.project.as_str()) {
                Some(&n) => n,
                None => {
                    let n: Option<i64> = sqlx::query_scalar("SELECT sessions FROM projects WHERE name = ?")
                        .bind(&s.project)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db("counting sessions"))?;
                    let n = n.unwrap_or(0) as u64;
                    project_sessions.insert(s.project.as_str(), n);
                    n
                }
            };
            let reach =
                Reach { sessions: sessions as u64, incidents: incidents as u64, project_sessions: total };
            sqlx::query("UPDATE issues SET severity = ? WHERE fingerprint = ?")
                .bind(severity(sig.kind, reach))
                .bind(&fp)
                .execute(&mut *tx)
                .await
                .map_err(db("updating an issue"))?;
        }
        // Many rows per statement: each statement is a round trip to the
        // database thread, which cost more than the insert itself.
        for rows in batch.summaries.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT OR REPLACE INTO sessions
                 (project, sid, part, uid, start_ts, end_ts, pages, first_url, counts, signals, ended) ",
            );
            q.push_values(rows, |mut b, s| {
                b.push_bind(&s.project)
                    .push_bind(&s.sid)
                    .push_bind(s.part)
                    .push_bind(&s.uid)
                    .push_bind(s.start_ts)
                    .push_bind(s.end_ts)
                    .push_bind(s.pages)
                    .push_bind(&s.first_url)
                    .push_bind(serde_json::to_string(&s.counts).expect("a map of counts serializes"))
                    .push_bind(serde_json::to_string(&s.signals).expect("a map of counts serializes"))
                    .push_bind(s.ended);
            });
            q.build().execute(&mut *tx).await.map_err(db("storing sessions"))?;
        }
        tx.commit().await.map_err(db("storing results"))?;
        Ok(stats)
    }

    async fn incidents(&self, f: &ListFilter) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM incidents WHERE project = ? AND (? IS NULL OR kind = ?) AND (? IS NULL OR ts >= ?)
             ORDER BY ts DESC, id LIMIT ?",
        )
        .bind(&f.project)
        .bind(&f.kind)
        .bind(&f.kind)
        .bind(f.since_ms)
        .bind(f.since_ms)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing incidents"))?;
        rows.into_iter()
            .map(|r| {
                let evidence: String = r.get("evidence");
                Ok(Incident {
                    id: r.get("id"),
                    project: r.get("project"),
                    issue: r.get("fingerprint"),
                    profile: r.get("profile"),
                    kind: r.get("kind"),
                    sid: r.get("sid"),
                    uid: r.get("uid"),
                    ts: r.get("ts"),
                    end_ts: r.get("end_ts"),
                    count: r.get("count"),
                    evidence: serde_json::from_str(&evidence).map_err(|e| StoreError::Corrupt {
                        what: "incidents.evidence",
                        detail: e.to_string(),
                    })?,
                    sel: r.get("sel"),
                    url: r.get("url"),
                })
            })
            .collect()
    }

    async fn issues(&self, f: &ListFilter) -> Result<Vec<Issue>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM issues WHERE project = ? AND (? IS NULL OR kind = ?) AND (? IS NULL OR last_seen >= ?)
             ORDER BY last_seen DESC, fingerprint LIMIT ?",
        )
        .bind(&f.project)
        .bind(&f.kind)
        .bind(&f.kind)
        .bind(f.since_ms)
        .bind(f.since_ms)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing issues"))?;
        Ok(rows
            .into_iter()
            .map(|r| Issue {
                fingerprint: r.get("fingerprint"),
                project: r.get("project"),
                kind: r.get("kind"),
                url_template: r.get("url_template"),
                sel: r.get("sel"),
                status: r.get("status"),
                severity: r.get("severity"),
                incidents: r.get::<i64, _>("incidents") as u64,
                sessions: r.get::<i64, _>("sessions") as u64,
                users: r.get::<i64, _>("users") as u64,
                first_seen: r.get("first_seen"),
                last_seen: r.get("last_seen"),
                example_url: r.get("example_url"),
            })
            .collect())
    }

    async fn session(&self, project: &str, sid: &str) -> Result<Vec<SessionSummary>, StoreError> {
        let rows = sqlx::query("SELECT * FROM sessions WHERE project = ? AND sid = ? ORDER BY part")
            .bind(project)
            .bind(sid)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading a session"))?;
        rows.into_iter()
            .map(|r| {
                let json = |col: &'static str| {
                    serde_json::from_str(r.get(col))
                        .map_err(|e| StoreError::Corrupt { what: "sessions", detail: format!("{col}: {e}") })
                };
                Ok(SessionSummary {
                    project: r.get("project"),
                    sid: r.get("sid"),
                    part: r.get("part"),
                    uid: r.get("uid"),
                    start_ts: r.get("start_ts"),
                    end_ts: r.get("end_ts"),
                    pages: r.get("pages"),
                    first_url: r.get("first_url"),
                    counts: json("counts")?,
                    signals: json("signals")?,
                    ended: r.get("ended"),
                })
            })
            .collect()
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

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl RawEventStore for SqliteEventStore {
    async fn write_refs(&self, refs: &[EventRef]) -> Result<u64, StoreError> {
        let refs: Vec<&EventRef> = refs.iter().filter(|r| r.events.count > 0).collect();
        if refs.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await.map_err(db("storing event references"))?;
        let mut written = 0;
        for rows in refs.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT OR IGNORE INTO event_refs (project, sid, partition, \"offset\", n, first_ts, max_cts) ",
            );
            q.push_values(rows, |mut b, r| {
                let e = &r.events;
                b.push_bind(&e.project)
                    .push_bind(&e.sid)
                    .push_bind(r.partition)
                    .push_bind(r.offset as i64)
                    .push_bind(e.count)
                    .push_bind(e.first_ts)
                    .push_bind(e.max_cts);
            });
            written +=
                q.build().execute(&mut *tx).await.map_err(db("storing event references"))?.rows_affected();
        }
        tx.commit().await.map_err(db("storing event references"))?;
        Ok(written)
    }

    async fn session_refs(&self, project: &str, sid: &str) -> Result<Vec<(u32, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT partition, \"offset\" FROM event_refs WHERE project = ? AND sid = ? ORDER BY partition, \"offset\"",
        )
        .bind(project)
        .bind(sid)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading event references"))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<u32, _>("partition"), r.get::<i64, _>("offset") as u64))
            .collect())
    }

    async fn prune(&self, start: &[u64]) -> Result<u64, StoreError> {
        let mut removed = 0;
        for (p, &first) in start.iter().enumerate() {
            removed += sqlx::query("DELETE FROM event_refs WHERE partition = ? AND \"offset\" < ?")
                .bind(p as u32)
                .bind(first as i64)
                .execute(&self.pool)
                .await
                .map_err(db("pruning event references"))?
                .rows_affected();
        }
        Ok(removed)
    }
}
