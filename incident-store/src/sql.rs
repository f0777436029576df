//! The SQL both stores share: SQLite and PostgreSQL run the same
//! statements (`$N` parameters, `ON CONFLICT`, `CASE` for least and
//! greatest, `CAST` to type a null parameter), so one text of every query
//! and of the write algorithm serves both, generated per backend by
//! [`impl_stores!`]. Integers go in and out as `i64`, which both map to
//! their 64-bit integer columns. One step differs: incidents and their
//! issues, row by row on SQLite (in process: no round trips to save) and
//! set-based on PostgreSQL (a fixed number of round trips per write,
//! arrays through `UNNEST`; 13 times the row-by-row rate in
//! `benches/store_write`); both reach the same rows.
//!
//! A write is atomic and idempotent: incidents have content-derived ids
//! and counters move only with rows that were new, so a replay stores
//! nothing twice. Rows are locked in a fixed order (sessions by sid,
//! issues by fingerprint), so concurrent writers (several processors on
//! PostgreSQL) never deadlock on each other.

use std::collections::{BTreeMap, BTreeSet};

use ufse_sessionizer::{SessionSignal, SessionSummary};

use crate::{incident_id, issue_fingerprint};

/// Rows per multi-row statement (11 columns at most: far under SQLite's
/// 32,766 and PostgreSQL's 65,535 bound parameters).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

pub(crate) fn split_origins(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect()
}

/// The projects whose sessions `summaries` touch, each with its sids in order.
pub(crate) fn sessions_by_project(summaries: &[SessionSummary]) -> BTreeMap<&str, Vec<&str>> {
    let mut sids: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in summaries {
        sids.entry(s.project.as_str()).or_default().insert(s.sid.as_str());
    }
    sids.into_iter().map(|(p, s)| (p, s.into_iter().collect())).collect()
}

/// Signals with their issue fingerprint and incident id, in the order
/// their issues are locked.
pub(crate) fn signals_in_lock_order<'a>(
    profile: &str,
    signals: &'a [SessionSignal],
) -> Vec<(String, String, &'a SessionSignal)> {
    let mut out: Vec<_> = signals
        .iter()
        .map(|s| {
            let sig = &s.signal;
            let fp = issue_fingerprint(&s.project, sig.kind, sig.url.as_deref(), sig.sel.as_deref());
            (fp, incident_id(profile, &s.project, sig), s)
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// Session summaries in the order their rows are locked.
pub(crate) fn summaries_in_lock_order(summaries: &[SessionSummary]) -> Vec<&SessionSummary> {
    let mut out: Vec<&SessionSummary> = summaries.iter().collect();
    out.sort_by(|a, b| (&a.project, &a.sid, a.part).cmp(&(&b.project, &b.sid, b.part)));
    out
}

/// Implements [`IncidentStore`](crate::IncidentStore) for `$meta` and
/// [`RawEventStore`](crate::RawEventStore) for `$events`, both holding a
/// `pool` of database `$db`; `$lock` is appended to the project lookup
/// that serializes key rotations (`FOR UPDATE` where rows can be locked),
/// `$signals` stores a write's signals as incidents, counts them into
/// their issues and applies the lifecycle's hot-path step
/// ([`after_write`](crate::lifecycle::after_write)), inside the write's
/// transaction.
macro_rules! impl_stores {
    ($meta:ty, $events:ty, $db:ty, lock = $lock:literal, signals = $signals:path) => {
        /// Rows of `sql`, a listing whose parameters are the filter's
        /// project, kind, since and limit, in that order.
        async fn list(
            pool: &sqlx::Pool<$db>,
            sql: &'static str,
            f: &ListFilter,
            what: &'static str,
        ) -> Result<Vec<<$db as sqlx::Database>::Row>, StoreError> {
            sqlx::query(sql)
                .bind(&f.project)
                .bind(&f.kind)
                .bind(f.since_ms)
                .bind(i64::from(f.limit))
                .fetch_all(pool)
                .await
                .map_err(db(what))
        }

        /// Mints a key for `project` in `tx`; only its digest and prefix are stored.
        async fn insert_key(
            tx: &mut sqlx::Transaction<'_, $db>,
            project: &str,
            now_ms: i64,
        ) -> Result<String, StoreError> {
            let key = new_key();
            sqlx::query("INSERT INTO project_keys (digest, project, prefix, created_ms) VALUES ($1, $2, $3, $4)")
                .bind(key_digest(&key))
                .bind(project)
                .bind(&key[..9])
                .bind(now_ms)
                .execute(&mut **tx)
                .await
                .map_err(db("creating a key"))?;
            Ok(key)
        }

        /// An `incidents` row.
        fn incident_row(r: &<$db as sqlx::Database>::Row) -> Result<Incident, StoreError> {
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
                count: r.get::<i64, _>("count") as u32,
                evidence: serde_json::from_str(&evidence)
                    .map_err(|e| StoreError::Corrupt { what: "incidents.evidence", detail: e.to_string() })?,
                sel: r.get("sel"),
                url: r.get("url"),
                seen_ms: r.get("seen_ms"),
            })
        }

        /// An `issues` row.
        fn issue_row(r: &<$db as sqlx::Database>::Row) -> Issue {
            Issue {
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
            }
        }

        impl IncidentStore for $meta {
            async fn close(&self) {
                self.close_pools().await;
            }

            async fn create_project(&self, name: &str, now_ms: i64) -> Result<String, StoreError> {
                let _gate = self.gate().await;
                if !valid_project_name(name) {
                    return Err(StoreError::InvalidProjectName(name.to_owned()));
                }
                let mut tx = self.pool.begin().await.map_err(db("creating a project"))?;
                let inserted =
                    sqlx::query("INSERT INTO projects (name, created_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING")
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
                            allowed_origins: $crate::sql::split_origins(r.get("allowed_origins")),
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
                let _gate = self.gate().await;
                let done = sqlx::query("UPDATE projects SET allowed_origins = $1 WHERE name = $2")
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
                let _gate = self.gate().await;
                let mut tx = self.pool.begin().await.map_err(db("rotating a key"))?;
                // Locks the project row where the database can ($lock): two
                // rotations at once then leave one key, not two.
                let exists: Option<String> = sqlx::query_scalar(concat!("SELECT name FROM projects WHERE name = $1", $lock))
                    .bind(project)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("rotating a key"))?;
                if exists.is_none() {
                    return Err(StoreError::NoSuchProject(project.to_owned()));
                }
                sqlx::query("UPDATE project_keys SET revoked_ms = COALESCE(revoked_ms, $1) WHERE project = $2")
                    .bind(now_ms)
                    .bind(project)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("rotating a key"))?;
                let key = insert_key(&mut tx, project, now_ms).await?;
                tx.commit().await.map_err(db("rotating a key"))?;
                Ok(key)
            }

            async fn revoke_key(&self, key: &str, now_ms: i64) -> Result<(), StoreError> {
                let _gate = self.gate().await;
                let done =
                    sqlx::query("UPDATE project_keys SET revoked_ms = COALESCE(revoked_ms, $1) WHERE digest = $2")
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
                     JOIN projects p ON p.name = k.project WHERE k.digest = $1",
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
                        allowed_origins: $crate::sql::split_origins(r.get("allowed_origins")),
                    },
                })
            }

            async fn write(&self, profile: &str, batch: &WriteBatch) -> Result<WriteStats, StoreError> {
                let _gate = self.gate().await;
                let mut stats = WriteStats::default();
                if batch.signals.is_empty() && batch.summaries.is_empty() {
                    return Ok(stats);
                }
                let mut tx = self.pool.begin().await.map_err(db("storing results"))?;
                // Count the projects' sessions first, so severities below see them.
                for (project, sids) in &$crate::sql::sessions_by_project(&batch.summaries) {
                    for rows in sids.chunks($crate::sql::ROWS_PER_STATEMENT) {
                        let mut q = QueryBuilder::<$db>::new("INSERT INTO project_sessions (project, sid) ");
                        q.push_values(rows, |mut b, sid| {
                            b.push_bind(*project).push_bind(*sid);
                        });
                        q.push(" ON CONFLICT DO NOTHING");
                        let new = q.build().execute(&mut *tx).await.map_err(db("counting sessions"))?.rows_affected();
                        if new > 0 {
                            sqlx::query("UPDATE projects SET sessions = sessions + $1 WHERE name = $2")
                                .bind(new as i64)
                                .bind(*project)
                                .execute(&mut *tx)
                                .await
                                .map_err(db("counting sessions"))?;
                        }
                    }
                }
                $signals(&mut tx, profile, &batch.signals, &self.triggers, &mut stats).await?;
                for rows in $crate::sql::summaries_in_lock_order(&batch.summaries).chunks($crate::sql::ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO sessions
                         (project, sid, part, uid, start_ts, end_ts, pages, first_url, counts, signals, ended) ",
                    );
                    q.push_values(rows, |mut b, s| {
                        b.push_bind(&s.project)
                            .push_bind(&s.sid)
                            .push_bind(i64::from(s.part))
                            .push_bind(&s.uid)
                            .push_bind(s.start_ts)
                            .push_bind(s.end_ts)
                            .push_bind(i64::from(s.pages))
                            .push_bind(&s.first_url)
                            .push_bind(serde_json::to_string(&s.counts).expect("a map of counts serializes"))
                            .push_bind(serde_json::to_string(&s.signals).expect("a map of counts serializes"))
                            .push_bind(s.ended);
                    });
                    q.push(
                        " ON CONFLICT (project, sid, part) DO UPDATE SET uid = EXCLUDED.uid, start_ts = EXCLUDED.start_ts,
                         end_ts = EXCLUDED.end_ts, pages = EXCLUDED.pages, first_url = EXCLUDED.first_url,
                         counts = EXCLUDED.counts, signals = EXCLUDED.signals, ended = EXCLUDED.ended",
                    );
                    q.build().execute(&mut *tx).await.map_err(db("storing sessions"))?;
                }
                tx.commit().await.map_err(db("storing results"))?;
                Ok(stats)
            }

            async fn incidents(&self, f: &ListFilter) -> Result<Vec<Incident>, StoreError> {
                let sql = "SELECT * FROM incidents WHERE project = $1 AND (CAST($2 AS TEXT) IS NULL OR kind = $2)
                     AND (CAST($3 AS BIGINT) IS NULL OR ts >= $3) ORDER BY ts DESC, id LIMIT $4";
                list(&self.pool, sql, f, "listing incidents").await?.iter().map(incident_row).collect()
            }

            async fn issues(&self, f: &ListFilter) -> Result<Vec<Issue>, StoreError> {
                let sql = "SELECT * FROM issues WHERE project = $1 AND (CAST($2 AS TEXT) IS NULL OR kind = $2)
                     AND (CAST($3 AS BIGINT) IS NULL OR last_seen >= $3) ORDER BY last_seen DESC, fingerprint LIMIT $4";
                Ok(list(&self.pool, sql, f, "listing issues").await?.iter().map(issue_row).collect())
            }

            async fn session(&self, project: &str, sid: &str) -> Result<Vec<SessionSummary>, StoreError> {
                let rows = sqlx::query("SELECT * FROM sessions WHERE project = $1 AND sid = $2 ORDER BY part")
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
                            part: r.get::<i64, _>("part") as u32,
                            uid: r.get("uid"),
                            start_ts: r.get("start_ts"),
                            end_ts: r.get("end_ts"),
                            pages: r.get::<i64, _>("pages") as u32,
                            first_url: r.get("first_url"),
                            counts: json("counts")?,
                            signals: json("signals")?,
                            ended: r.get("ended"),
                        })
                    })
                    .collect()
            }

            async fn save_partition_state(
                &self,
                scope: &str,
                partition: u32,
                next_offset: u64,
                state: &[u8],
            ) -> Result<bool, StoreError> {
                let _gate = self.gate().await;
                let done = sqlx::query(
                    "INSERT INTO partition_state (scope, \"partition\", next_offset, state) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (scope, \"partition\") DO UPDATE
                     SET next_offset = excluded.next_offset, state = excluded.state
                     WHERE partition_state.next_offset <= excluded.next_offset",
                )
                .bind(scope)
                .bind(i64::from(partition))
                .bind(next_offset as i64)
                .bind(state)
                .execute(&self.pool)
                .await
                .map_err(db("storing a partition snapshot"))?;
                Ok(done.rows_affected() > 0)
            }

            async fn load_partition_state(
                &self,
                scope: &str,
                partition: u32,
            ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
                let row = sqlx::query(
                    "SELECT next_offset, state FROM partition_state WHERE scope = $1 AND \"partition\" = $2",
                )
                .bind(scope)
                .bind(i64::from(partition))
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a partition snapshot"))?;
                Ok(row.map(|r| (r.get::<i64, _>("next_offset") as u64, r.get("state"))))
            }
        }

        impl RawEventStore for $events {
            async fn close(&self) {
                self.pool.close().await;
            }

            async fn write_refs(&self, refs: &[EventRef]) -> Result<u64, StoreError> {
                let _gate = self.gate().await;
                let refs: Vec<&EventRef> = refs.iter().filter(|r| !r.events.positions.is_empty()).collect();
                if refs.is_empty() {
                    return Ok(0);
                }
                let mut written = 0;
                let mut tx = self.pool.begin().await.map_err(db("storing event references"))?;
                for rows in refs.chunks($crate::sql::ROWS_PER_STATEMENT) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO event_refs (project, sid, \"partition\", \"offset\", n, first_ts, max_cts) ",
                    );
                    q.push_values(rows, |mut b, r| {
                        let e = &r.events;
                        b.push_bind(&e.project)
                            .push_bind(&e.sid)
                            .push_bind(i64::from(r.partition))
                            .push_bind(r.offset as i64)
                            .push_bind(e.positions.len() as i64)
                            .push_bind(e.first_ts)
                            .push_bind(e.max_cts);
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    written +=
                        q.build().execute(&mut *tx).await.map_err(db("storing event references"))?.rows_affected();
                }
                tx.commit().await.map_err(db("storing event references"))?;
                Ok(written)
            }

            async fn session_refs(&self, project: &str, sid: &str) -> Result<Vec<(u32, u64)>, StoreError> {
                let rows = sqlx::query(
                    "SELECT \"partition\", \"offset\" FROM event_refs WHERE project = $1 AND sid = $2
                     ORDER BY \"partition\", \"offset\"",
                )
                .bind(project)
                .bind(sid)
                .fetch_all(&self.pool)
                .await
                .map_err(db("reading event references"))?;
                Ok(rows
                    .into_iter()
                    .map(|r| (r.get::<i64, _>("partition") as u32, r.get::<i64, _>("offset") as u64))
                    .collect())
            }

            async fn prune(&self, start: &[u64]) -> Result<u64, StoreError> {
                let _gate = self.gate().await;
                let mut removed = 0;
                for (p, &first) in start.iter().enumerate() {
                    removed += sqlx::query("DELETE FROM event_refs WHERE \"partition\" = $1 AND \"offset\" < $2")
                        .bind(p as i64)
                        .bind(first as i64)
                        .execute(&self.pool)
                        .await
                        .map_err(db("pruning event references"))?
                        .rows_affected();
                }
                Ok(removed)
            }
        }
    };
}
pub(crate) use impl_stores;
