//! The store on PostgreSQL (sqlx), for deployments that outgrow one
//! machine: the tables of the SQLite store with PostgreSQL's types, and
//! the same statements (`sql`), so both pass one conformance suite
//! (`tests/conformance`). Several processors may write at once; see `sql`
//! for why that is safe.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use ufse_sessionizer::{SessionSignal, SessionSummary};

use crate::lifecycle::{after_write, Touched};
use crate::model::db;
use crate::{
    key_digest, new_key, path_template, severity, valid_project_name, Actor, AiBudget, Approval, AuditEntry,
    Claimed, ColdPathStore, EventRef, Explanation, Incident, IncidentStore, Issue, IssueDetail, IssueStatus,
    IssueTickets, Job, JobOutcome, JobState, KeyInfo, KeyStatus, ListFilter, NewJob, Project, RateLimit,
    RawEventStore, Reach, RequestState, Severity, StoreError, Ticket, TicketFilter, TicketRequest, Triggers,
    WriteBatch, WriteStats,
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

/// Projects, keys, sessions, incidents and issues, and what the cold path
/// keeps, in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    triggers: Arc<Triggers>,
}

impl PgStore {
    /// Connects to `url` and migrates the tables in `schema`; its writes
    /// queue no cold-path work until [`with_triggers`](Self::with_triggers).
    ///
    /// # Errors
    ///
    /// When the server cannot be reached or the schema migrated.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        Ok(PgStore { pool: open_pool(url, schema).await?, triggers: Arc::default() })
    }

    /// The store, queueing cold-path work as `triggers` say when it writes.
    pub fn with_triggers(self, triggers: Triggers) -> Self {
        PgStore { triggers: Arc::new(triggers), ..self }
    }

    async fn close_pools(&self) {
        self.pool.close().await;
    }

    /// Writers need no gate: PostgreSQL locks rows, and takes many at once.
    async fn gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        None
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

    /// Writers need no gate (see [`PgStore`]'s).
    async fn gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        None
    }
}

crate::sql::impl_stores!(PgStore, PgEventStore, Postgres, lock = " FOR UPDATE", signals = store_signals);

crate::cold_path::impl_cold_path!(
    PgStore,
    Postgres,
    pool = pool,
    begin = "BEGIN",
    lock = " FOR UPDATE",
    skip_locked = " FOR UPDATE SKIP LOCKED",
    audit_order = "seq"
);

/// One issue's share of a write's new incidents.
struct IssueDelta<'a> {
    /// Its first new incident in lock order: opens the issue if it is new.
    first: (&'a str, &'a SessionSignal),
    incidents: i64,
    first_seen: i64,
    last_seen: i64,
    sids: BTreeSet<&'a str>,
    uids: BTreeSet<&'a str>,
}

/// Stores `signals` as incidents and counts the new ones into their issues,
/// set-based: a fixed number of statements however many signals there are
/// (see `sql`); the same rows as SQLite's row-by-row algorithm. Existing
/// issues are locked in fingerprint order, after the new ones were
/// inserted in that order, so concurrent writers never deadlock.
async fn store_signals(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    profile: &str,
    signals: &[SessionSignal],
    triggers: &Triggers,
    stats: &mut WriteStats,
) -> Result<(), StoreError> {
    let signals = crate::sql::signals_in_lock_order(profile, signals);
    if signals.is_empty() {
        return Ok(());
    }
    // One array per column.
    let n = signals.len();
    let (mut ids, mut projects, mut fps, mut kinds, mut sids) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut uids, mut ts, mut end_ts, mut counts, mut evidence, mut sels, mut urls, mut seen) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (fp, id, s) in &signals {
        let sig = &s.signal;
        ids.push(id.as_str());
        projects.push(s.project.as_str());
        fps.push(fp.as_str());
        kinds.push(sig.kind.as_str());
        sids.push(sig.sid.as_str());
        uids.push(s.uid.as_deref());
        ts.push(sig.ts);
        end_ts.push(sig.end_ts);
        counts.push(i64::from(sig.count));
        evidence.push(serde_json::to_string(&sig.evidence).expect("a list of integers serializes"));
        sels.push(sig.sel.as_deref());
        urls.push(sig.url.as_deref());
        seen.push(s.seen_ms);
    }
    let new: Vec<String> = sqlx::query_scalar(
        "INSERT INTO incidents
         (id, project, fingerprint, profile, kind, sid, uid, ts, end_ts, count, evidence, sel, url, seen_ms)
         SELECT id, project, fp, $4, kind, sid, uid, ts, end_ts, count, evidence, sel, url, seen
         FROM UNNEST($1::text[], $2::text[], $3::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
                     $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[])
              AS s(id, project, fp, kind, sid, uid, ts, end_ts, count, evidence, sel, url, seen)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(&ids)
    .bind(&projects)
    .bind(&fps)
    .bind(profile)
    .bind(&kinds)
    .bind(&sids)
    .bind(&uids)
    .bind(&ts)
    .bind(&end_ts)
    .bind(&counts)
    .bind(&evidence)
    .bind(&sels)
    .bind(&urls)
    .bind(&seen)
    .fetch_all(&mut **tx)
    .await
    .map_err(db("storing incidents"))?;
    stats.new_incidents += new.len() as u64;
    stats.known_incidents += (signals.len() - new.len()) as u64;
    if new.is_empty() {
        // Counts move only with new incidents, so replays leave them exact.
        return Ok(());
    }

    // Each new incident once (a signal twice in one write is stored once), by issue.
    let mut new: BTreeSet<String> = new.into_iter().collect();
    let mut issues: BTreeMap<&str, IssueDelta> = BTreeMap::new();
    for (fp, id, s) in &signals {
        if !new.remove(id) {
            continue;
        }
        let d = issues.entry(fp.as_str()).or_insert_with(|| IssueDelta {
            first: (id.as_str(), s),
            incidents: 0,
            first_seen: s.seen_ms,
            last_seen: s.seen_ms,
            sids: BTreeSet::new(),
            uids: BTreeSet::new(),
        });
        d.incidents += 1;
        d.first_seen = d.first_seen.min(s.seen_ms);
        d.last_seen = d.last_seen.max(s.seen_ms);
        d.sids.insert(&s.signal.sid);
        d.uids.extend(s.uid.as_deref());
    }
    let fps: Vec<&str> = issues.keys().copied().collect();
    let firsts = || issues.values().map(|d| d.first.1);

    let opened: Vec<String> = sqlx::query_scalar(
        "INSERT INTO issues
         (fingerprint, project, kind, url_template, sel, severity, first_seen, last_seen, example_url)
         SELECT fp, project, kind, template, sel, 'low', seen, seen, url
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
              AS i(fp, project, kind, template, sel, seen, url)
         ORDER BY fp
         ON CONFLICT DO NOTHING RETURNING fingerprint",
    )
    .bind(&fps)
    .bind(firsts().map(|s| s.project.as_str()).collect::<Vec<_>>())
    .bind(firsts().map(|s| s.signal.kind.as_str()).collect::<Vec<_>>())
    .bind(
        firsts().map(|s| s.signal.url.as_deref().map(path_template).unwrap_or_default()).collect::<Vec<_>>(),
    )
    .bind(firsts().map(|s| s.signal.sel.as_deref()).collect::<Vec<_>>())
    .bind(firsts().map(|s| s.seen_ms).collect::<Vec<_>>())
    .bind(firsts().map(|s| s.signal.url.as_deref()).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await
    .map_err(db("opening issues"))?;
    stats.new_issues += opened.len() as u64;
    if !opened.is_empty() {
        let deltas: Vec<&IssueDelta> = opened.iter().map(|fp| &issues[fp.as_str()]).collect();
        sqlx::query(
            "INSERT INTO issue_audit (fingerprint, at_ms, from_status, to_status, actor, note)
             SELECT fp, at, NULL, 'open', 'rule', note FROM UNNEST($1::text[], $2::bigint[], $3::text[])
                  AS a(fp, at, note)",
        )
        .bind(&opened)
        .bind(deltas.iter().map(|d| d.first.1.seen_ms).collect::<Vec<_>>())
        .bind(deltas.iter().map(|d| format!("first incident {}", d.first.0)).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db("auditing issues"))?;
    }
    sqlx::query("SELECT 1 FROM issues WHERE fingerprint = ANY($1) ORDER BY fingerprint FOR UPDATE")
        .bind(&fps)
        .execute(&mut **tx)
        .await
        .map_err(db("locking issues"))?;

    // Distinct sessions and users, counted only where the pair is new.
    let session_pairs: Vec<(&str, &str)> =
        issues.iter().flat_map(|(fp, d)| d.sids.iter().map(move |sid| (*fp, *sid))).collect();
    let user_pairs: Vec<(&str, &str)> =
        issues.iter().flat_map(|(fp, d)| d.uids.iter().map(move |uid| (*fp, *uid))).collect();
    let new_sessions = count_new_pairs(tx, "issue_sessions", session_pairs).await?;
    let new_users = count_new_pairs(tx, "issue_users", user_pairs).await?;

    let updated: Vec<(String, i64, i64, String, i64)> = sqlx::query_as(
        "UPDATE issues SET incidents = incidents + d.n, sessions = sessions + d.s, users = users + d.u,
         first_seen = LEAST(first_seen, d.fs), last_seen = GREATEST(last_seen, d.ls)
         FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
              AS d(fp, n, s, u, fs, ls)
         WHERE fingerprint = d.fp RETURNING fingerprint, sessions, incidents, status, status_ms",
    )
    .bind(&fps)
    .bind(issues.values().map(|d| d.incidents).collect::<Vec<_>>())
    .bind(fps.iter().map(|fp| new_sessions.get(*fp).copied().unwrap_or(0)).collect::<Vec<_>>())
    .bind(fps.iter().map(|fp| new_users.get(*fp).copied().unwrap_or(0)).collect::<Vec<_>>())
    .bind(issues.values().map(|d| d.first_seen).collect::<Vec<_>>())
    .bind(issues.values().map(|d| d.last_seen).collect::<Vec<_>>())
    .fetch_all(&mut **tx)
    .await
    .map_err(db("updating issues"))?;

    // Severities first: the lifecycle's step reads them.
    let projects: Vec<&str> =
        firsts().map(|s| s.project.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
    let totals: BTreeMap<String, i64> =
        sqlx::query_as("SELECT name, sessions FROM projects WHERE name = ANY($1)")
            .bind(&projects)
            .fetch_all(&mut **tx)
            .await
            .map_err(db("counting sessions"))?
            .into_iter()
            .collect();
    let severities: Vec<(String, Severity)> = updated
        .iter()
        .map(|(fp, sessions, incidents, _, _)| {
            let first = issues[fp.as_str()].first.1;
            let total = totals.get(&first.project).copied().unwrap_or(0);
            let reach = Reach {
                sessions: *sessions as u64,
                incidents: *incidents as u64,
                project_sessions: total as u64,
            };
            (fp.clone(), severity(first.signal.kind, reach))
        })
        .collect();
    let (sev_fps, sevs): (Vec<&str>, Vec<&str>) =
        severities.iter().map(|(f, s)| (f.as_str(), s.as_str())).unzip();
    sqlx::query(
        "UPDATE issues SET severity = d.severity FROM UNNEST($1::text[], $2::text[]) AS d(fp, severity)
         WHERE fingerprint = d.fp",
    )
    .bind(sev_fps)
    .bind(sevs)
    .execute(&mut **tx)
    .await
    .map_err(db("updating issues"))?;

    // The lifecycle's hot-path step, issue by issue, then applied in a fixed number of statements.
    let (mut regressed, mut regressed_at, mut notes, mut jobs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for ((fp, sessions, _, status, status_ms), (_, severity)) in updated.iter().zip(&severities) {
        let d = &issues[fp.as_str()];
        let touched = Touched {
            fingerprint: fp,
            kind: d.first.1.signal.kind.as_str(),
            status: crate::cold_path::issue_status(status)?,
            status_ms: *status_ms,
            opened: opened.contains(fp),
            seen_ms: d.last_seen,
            sessions: *sessions as u64,
            severity: *severity,
        };
        let step = after_write(triggers, &touched);
        if step.regress {
            regressed.push(fp.as_str());
            regressed_at.push(d.last_seen);
            notes.push(format!("incident {} seen after the resolution", d.first.0));
        }
        jobs.extend(step.job);
    }
    if !regressed.is_empty() {
        sqlx::query(
            "UPDATE issues SET status = 'regressed', status_ms = d.at FROM UNNEST($1::text[], $2::bigint[]) AS d(fp, at)
             WHERE fingerprint = d.fp",
        )
        .bind(&regressed)
        .bind(&regressed_at)
        .execute(&mut **tx)
        .await
        .map_err(db("regressing issues"))?;
        sqlx::query(
            "INSERT INTO issue_audit (fingerprint, at_ms, from_status, to_status, actor, note)
             SELECT fp, at, 'resolved', 'regressed', 'rule', note
             FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS a(fp, at, note)",
        )
        .bind(&regressed)
        .bind(&regressed_at)
        .bind(&notes)
        .execute(&mut **tx)
        .await
        .map_err(db("auditing issues"))?;
        stats.regressed_issues += regressed.len() as u64;
    }
    if !jobs.is_empty() {
        let queued = sqlx::query(
            "INSERT INTO jobs (kind, key, payload, state, run_after, created_ms, updated_ms)
             SELECT kind, key, payload, 'queued', due, due, due
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) AS j(kind, key, payload, due)
             ON CONFLICT (kind, key) WHERE state = 'queued' DO NOTHING",
        )
        .bind(jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.key.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.payload.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.run_after).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(db("queueing jobs"))?;
        stats.jobs_queued += queued.rows_affected();
    }

    Ok(())
}

/// Inserts `(fingerprint, value)` pairs into `table` (`issue_sessions` or
/// `issue_users`); how many were new, per fingerprint.
async fn count_new_pairs(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    table: &'static str,
    pairs: Vec<(&str, &str)>,
) -> Result<BTreeMap<String, i64>, StoreError> {
    if pairs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let (fps, values): (Vec<&str>, Vec<&str>) = pairs.into_iter().unzip();
    let sql = format!(
        "INSERT INTO {table} SELECT * FROM UNNEST($1::text[], $2::text[]) ON CONFLICT DO NOTHING RETURNING fingerprint"
    );
    let new: Vec<String> = sqlx::query_scalar(&sql)
        .bind(fps)
        .bind(values)
        .fetch_all(&mut **tx)
        .await
        .map_err(db("counting issue reach"))?;
    let mut counts = BTreeMap::new();
    for fp in new {
        *counts.entry(fp).or_insert(0) += 1;
    }
    Ok(counts)
}
