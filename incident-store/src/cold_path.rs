//! [`ColdPathStore`](crate::ColdPathStore) on both backends: one text of
//! every statement (as in `sql`), generated per backend by
//! [`impl_cold_path!`].
//!
//! Every read-then-write runs in one transaction that takes its write lock
//! first (`BEGIN IMMEDIATE` on SQLite; row locks on PostgreSQL), so
//! concurrent workers see each other's claims, approvals and tickets.
//! Claims pick rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so any
//! number of workers share the queue without waiting on each other.

use crate::{IssueStatus, JobState, RemoteState, RequestState, StoreError};

/// How many times a transaction that met a concurrent twin (a unique
/// violation on PostgreSQL) is run again.
pub(crate) const TWIN_RETRIES: usize = 3;

/// The audit note of a job given up because its workers kept dying.
pub(crate) const BURIED: &str = "its worker stopped renewing the lease (died or hung) on every attempt";

pub(crate) fn job_state(s: &str) -> Result<JobState, StoreError> {
    JobState::parse(s).ok_or_else(|| StoreError::Corrupt { what: "jobs.state", detail: s.to_owned() })
}

pub(crate) fn issue_status(s: &str) -> Result<IssueStatus, StoreError> {
    IssueStatus::parse(s).ok_or_else(|| StoreError::Corrupt { what: "issues.status", detail: s.to_owned() })
}

pub(crate) fn remote_state(s: &str) -> Result<RemoteState, StoreError> {
    RemoteState::parse(s)
        .ok_or_else(|| StoreError::Corrupt { what: "tickets.remote_state", detail: s.to_owned() })
}

pub(crate) fn request_state(s: &str) -> Result<RequestState, StoreError> {
    RequestState::parse(s)
        .ok_or_else(|| StoreError::Corrupt { what: "ticket_requests.state", detail: s.to_owned() })
}

/// Whether `e` is a unique violation: a concurrent writer inserted a twin.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

/// A fingerprint prefix as given: 1 to 64 lower-case hex digits.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    (1..=64).contains(&prefix.len()) && prefix.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The page of a URL without its query string and fragment.
pub(crate) fn page(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Implements [`ColdPathStore`](crate::ColdPathStore) for `$meta`, whose
/// field `$pool` is a pool of database `$db`: `$begin` starts a transaction that
/// takes the write lock at once, `$lock` is appended to the reads that must
/// lock their rows (`FOR UPDATE`), `$skip` to the pick of jobs to claim
/// (`FOR UPDATE SKIP LOCKED`), and `$audit_order` orders audit entries in
/// the order they were written (SQLite's `rowid`, a serial on PostgreSQL).
macro_rules! impl_cold_path {
    ($meta:ty, $db:ty, pool = $pool:ident, begin = $begin:literal, lock = $lock:literal, skip_locked = $skip:literal,
     audit_order = $audit_order:literal) => {
        /// A `jobs` row.
        fn job_row(r: &<$db as sqlx::Database>::Row) -> Result<Job, StoreError> {
            Ok(Job {
                id: r.get("id"),
                kind: r.get("kind"),
                key: r.get("key"),
                payload: r.get("payload"),
                state: $crate::cold_path::job_state(r.get("state"))?,
                attempts: r.get::<i64, _>("attempts") as u32,
                run_after: r.get("run_after"),
                locked_by: r.get("locked_by"),
                locked_until: r.get("locked_until"),
                last_error: r.get("last_error"),
                created_ms: r.get("created_ms"),
                updated_ms: r.get("updated_ms"),
            })
        }

        /// A `tickets` row.
        fn ticket_row(r: &<$db as sqlx::Database>::Row) -> Result<Ticket, StoreError> {
            Ok(Ticket {
                fingerprint: r.get("fingerprint"),
                provider: r.get("provider"),
                round: r.get::<i64, _>("round") as u32,
                project: r.get("project"),
                remote_id: r.get("remote_id"),
                key: r.get("key"),
                url: r.get("url"),
                remote_state: $crate::cold_path::remote_state(r.get("remote_state"))?,
                created_ms: r.get("created_ms"),
                synced_ms: r.get("synced_ms"),
                commented_ms: r.get("commented_ms"),
                commented_incidents: r.get::<i64, _>("commented_incidents") as u64,
            })
        }

        /// A `ticket_requests` row.
        fn request_row(r: &<$db as sqlx::Database>::Row) -> Result<TicketRequest, StoreError> {
            let reasons: String = r.get("reasons");
            Ok(TicketRequest {
                fingerprint: r.get("fingerprint"),
                round: r.get::<i64, _>("round") as u32,
                project: r.get("project"),
                state: $crate::cold_path::request_state(r.get("state"))?,
                reasons: serde_json::from_str(&reasons).map_err(|e| StoreError::Corrupt {
                    what: "ticket_requests.reasons",
                    detail: e.to_string(),
                })?,
                draft: r.get("draft"),
                created_ms: r.get("created_ms"),
                updated_ms: r.get("updated_ms"),
                decided_ms: r.get("decided_ms"),
                decided_by: r.get("decided_by"),
            })
        }

        /// An `explanations` row.
        fn explanation_row(r: &<$db as sqlx::Database>::Row) -> Explanation {
            Explanation {
                fingerprint: r.get("fingerprint"),
                interpreter: r.get("interpreter"),
                model: r.get("model"),
                prompt: r.get("prompt"),
                evidence_hash: r.get("evidence_hash"),
                result: r.get("result"),
                fallback: r.get("fallback"),
                input_tokens: r.get::<i64, _>("input_tokens") as u64,
                output_tokens: r.get::<i64, _>("output_tokens") as u64,
                created_ms: r.get("created_ms"),
            }
        }

        /// The rows of `sql` about one issue (its one parameter), each made by `row`.
        async fn of_issue<T>(
            pool: &sqlx::Pool<$db>,
            sql: &str,
            fingerprint: &str,
            what: &'static str,
            row: impl Fn(&<$db as sqlx::Database>::Row) -> Result<T, StoreError>,
        ) -> Result<Vec<T>, StoreError> {
            sqlx::query(sql).bind(fingerprint).fetch_all(pool).await.map_err(db(what))?.iter().map(row).collect()
        }

        /// Queues `job` in `tx` unless one of its kind and key is queued; whether it was.
        async fn insert_job(
            tx: &mut sqlx::Transaction<'_, $db>,
            job: &NewJob,
            now_ms: i64,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "INSERT INTO jobs (kind, key, payload, state, run_after, created_ms, updated_ms)
                 VALUES ($1, $2, $3, 'queued', $4, $5, $5)
                 ON CONFLICT (kind, key) WHERE state = 'queued' DO NOTHING",
            )
            .bind(&job.kind)
            .bind(&job.key)
            .bind(&job.payload)
            .bind(job.run_after)
            .bind(now_ms)
            .execute(&mut **tx)
            .await
            .map_err(db("queueing a job"))?;
            Ok(done.rows_affected() == 1)
        }

        /// Appends an audit entry in `tx`.
        async fn audit(
            tx: &mut sqlx::Transaction<'_, $db>,
            fingerprint: &str,
            at_ms: i64,
            from: Option<&str>,
            to: &str,
            actor: &str,
            note: &str,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO issue_audit (fingerprint, at_ms, from_status, to_status, actor, note)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(fingerprint)
            .bind(at_ms)
            .bind(from)
            .bind(to)
            .bind(actor)
            .bind(note)
            .execute(&mut **tx)
            .await
            .map_err(db("auditing an issue"))?;
            Ok(())
        }

        /// Puts the claimed job `id` back in the queue for `at_ms` with
        /// `attempts`, in `tx`; when a twin of its kind and key was queued
        /// meanwhile, the twin takes the later due time and the job goes.
        #[allow(clippy::too_many_arguments)]
        async fn requeue(
            tx: &mut sqlx::Transaction<'_, $db>,
            id: i64,
            kind: &str,
            key: &str,
            at_ms: i64,
            attempts: i64,
            error: Option<&str>,
            now_ms: i64,
        ) -> Result<(), sqlx::Error> {
            let twin: Option<i64> = sqlx::query_scalar(concat!(
                "SELECT id FROM jobs WHERE kind = $1 AND key = $2 AND state = 'queued' AND id <> $3",
                $lock
            ))
            .bind(kind)
            .bind(key)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
            match twin {
                Some(twin) => {
                    sqlx::query(
                        "UPDATE jobs SET run_after = CASE WHEN run_after > $1 THEN run_after ELSE $1 END,
                         attempts = CASE WHEN attempts > $2 THEN attempts ELSE $2 END,
                         last_error = COALESCE($3, last_error), updated_ms = $4 WHERE id = $5",
                    )
                    .bind(at_ms)
                    .bind(attempts)
                    .bind(error)
                    .bind(now_ms)
                    .bind(twin)
                    .execute(&mut **tx)
                    .await?;
                    sqlx::query("DELETE FROM jobs WHERE id = $1").bind(id).execute(&mut **tx).await?;
                }
                None => {
                    sqlx::query(
                        "UPDATE jobs SET state = 'queued', run_after = $1, attempts = $2,
                         last_error = COALESCE($3, last_error), locked_by = NULL, locked_until = NULL,
                         updated_ms = $4 WHERE id = $5",
                    )
                    .bind(at_ms)
                    .bind(attempts)
                    .bind(error)
                    .bind(now_ms)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                }
            }
            Ok(())
        }

        /// Stores `r` as `state` in `tx`, unless the request of its issue and round was decided
        /// already; whether it was stored.
        async fn upsert_request(
            tx: &mut sqlx::Transaction<'_, $db>,
            r: &TicketRequest,
            state: RequestState,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "INSERT INTO ticket_requests (fingerprint, round, project, state, reasons, draft, created_ms,
                 updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                 ON CONFLICT (fingerprint, round) DO UPDATE SET state = excluded.state,
                 reasons = excluded.reasons, draft = excluded.draft, updated_ms = excluded.updated_ms
                 WHERE ticket_requests.state IN ('held', 'pending')",
            )
            .bind(&r.fingerprint)
            .bind(i64::from(r.round))
            .bind(&r.project)
            .bind(state.as_str())
            .bind(serde_json::to_string(&r.reasons).expect("strings serialize"))
            .bind(&r.draft)
            .bind(r.updated_ms)
            .execute(&mut **tx)
            .await
            .map_err(db("storing a ticket request"))?;
            Ok(done.rows_affected() == 1)
        }

        /// Approves the pending request of `fingerprint` and `round` in `tx` and queues `jobs`;
        /// with `limit`, only while `project` has fewer than `limit.max` approvals by rule in
        /// its window (then nothing is written).
        #[allow(clippy::too_many_arguments)]
        async fn approve_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            project: &str,
            fingerprint: &str,
            round: u32,
            actor: Actor,
            limit: Option<&RateLimit>,
            jobs: &[NewJob],
            now_ms: i64,
        ) -> Result<Approval, StoreError> {
            if let Some(limit) = limit {
                // A token bucket per project: `max` a window at most, refilled evenly.
                let row: Option<(f64, i64)> =
                    sqlx::query_as(concat!("SELECT tokens, updated_ms FROM ticket_budget WHERE project = $1", $lock))
                        .bind(project)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db("approving a ticket"))?;
                let cap = f64::from(limit.max);
                let per_ms = cap / limit.window_ms.max(1) as f64;
                let tokens = match row {
                    Some((tokens, at)) => (tokens + (now_ms - at).max(0) as f64 * per_ms).min(cap),
                    None => cap,
                };
                if tokens < 1.0 {
                    let wait = if per_ms > 0.0 { ((1.0 - tokens) / per_ms).ceil() as i64 } else { limit.window_ms };
                    return Ok(Approval::Limited { retry_at: now_ms + wait.max(1) });
                }
                sqlx::query(
                    "INSERT INTO ticket_budget (project, tokens, updated_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (project) DO UPDATE SET tokens = excluded.tokens, updated_ms = excluded.updated_ms",
                )
                .bind(project)
                .bind(tokens - 1.0)
                .bind(now_ms)
                .execute(&mut **tx)
                .await
                .map_err(db("approving a ticket"))?;
            }
            sqlx::query(
                "UPDATE ticket_requests SET state = 'approved', decided_ms = $1, decided_by = $2, updated_ms = $1
                 WHERE fingerprint = $3 AND round = $4",
            )
            .bind(now_ms)
            .bind(actor.as_str())
            .bind(fingerprint)
            .bind(i64::from(round))
            .execute(&mut **tx)
            .await
            .map_err(db("approving a ticket"))?;
            for job in jobs {
                insert_job(tx, job, now_ms).await?;
            }
            Ok(Approval::Approved)
        }

        impl ColdPathStore for $meta {
            async fn enqueue_job(&self, job: &NewJob, now_ms: i64) -> Result<bool, StoreError> {
                let _gate = self.gate().await;
                let mut tx = self.$pool.begin().await.map_err(db("queueing a job"))?;
                let queued = insert_job(&mut tx, job, now_ms).await?;
                tx.commit().await.map_err(db("queueing a job"))?;
                Ok(queued)
            }

            async fn claim_jobs(
                &self,
                worker: &str,
                now_ms: i64,
                lease_ms: i64,
                limit: u32,
                max_attempts: u32,
            ) -> Result<Claimed, StoreError> {
                let _gate = self.gate().await;
                let mut tx = self.$pool.begin_with($begin).await.map_err(db("claiming jobs"))?;
                let buried = sqlx::query(
                    "UPDATE jobs SET state = 'dead', last_error = $1, locked_by = NULL, locked_until = NULL,
                     updated_ms = $2 WHERE state = 'claimed' AND locked_until <= $2 AND attempts >= $3",
                )
                .bind($crate::cold_path::BURIED)
                .bind(now_ms)
                .bind(i64::from(max_attempts))
                .execute(&mut *tx)
                .await
                .map_err(db("burying abandoned jobs"))?
                .rows_affected();
                // Two picks, each an index range read in order (one OR-ed pick would sort the whole
                // backlog each time): abandoned claims first, then the oldest due.
                let claim = |pick: &'static str| {
                    sqlx::query(pick)
                        .bind(worker)
                        .bind(now_ms.saturating_add(lease_ms))
                        .bind(now_ms)
                };
                let mut rows = claim(concat!(
                    "UPDATE jobs SET state = 'claimed', locked_by = $1, locked_until = $2,
                     attempts = attempts + 1, updated_ms = $3
                     WHERE id IN (SELECT id FROM jobs WHERE state = 'claimed' AND locked_until <= $3
                       ORDER BY locked_until, id LIMIT $4",
                    $skip,
                    ") RETURNING *"
                ))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await
                .map_err(db("claiming jobs"))?;
                let rest = i64::from(limit) - rows.len() as i64;
                if rest > 0 {
                    rows.extend(
                        claim(concat!(
                            "UPDATE jobs SET state = 'claimed', locked_by = $1, locked_until = $2,
                             attempts = attempts + 1, updated_ms = $3
                             WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= $3
                               ORDER BY run_after, id LIMIT $4",
                            $skip,
                            ") RETURNING *"
                        ))
                        .bind(rest)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db("claiming jobs"))?,
                    );
                }
                tx.commit().await.map_err(db("claiming jobs"))?;
                let mut jobs = rows.iter().map(job_row).collect::<Result<Vec<_>, _>>()?;
                jobs.sort_by_key(|j| (j.run_after, j.id));
                Ok(Claimed { jobs, buried })
            }

            async fn extend_leases(&self, ids: &[i64], worker: &str, until_ms: i64) -> Result<Vec<i64>, StoreError> {
                let _gate = self.gate().await;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$db>::new("UPDATE jobs SET locked_until = ");
                q.push_bind(until_ms).push(" WHERE state = 'claimed' AND locked_by = ").push_bind(worker);
                q.push(" AND id IN (");
                let mut list = q.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                q.push(") RETURNING id");
                let held: Vec<i64> = q
                    .build_query_scalar()
                    .fetch_all(&self.$pool)
                    .await
                    .map_err(db("extending leases"))?;
                Ok(held)
            }

            async fn finish_job(
                &self,
                id: i64,
                worker: &str,
                outcome: &JobOutcome,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let _gate = self.gate().await;
                // Done and dead are one statement each; a job queued again looks for a twin first.
                let held = "id = $1 AND state = 'claimed' AND locked_by = $2";
                match outcome {
                    JobOutcome::Done => {
                        let done = sqlx::query(&format!("DELETE FROM jobs WHERE {held}"))
                            .bind(id)
                            .bind(worker)
                            .execute(&self.$pool)
                            .await
                            .map_err(db("finishing a job"))?;
                        return Ok(done.rows_affected() == 1);
                    }
                    JobOutcome::Dead { error } => {
                        let done = sqlx::query(&format!(
                            "UPDATE jobs SET state = 'dead', last_error = $3, locked_by = NULL, locked_until = NULL,
                             updated_ms = $4 WHERE {held}"
                        ))
                        .bind(id)
                        .bind(worker)
                        .bind(error)
                        .bind(now_ms)
                        .execute(&self.$pool)
                        .await
                        .map_err(db("finishing a job"))?;
                        return Ok(done.rows_affected() == 1);
                    }
                    JobOutcome::Retry { .. } | JobOutcome::Defer { .. } => {}
                }
                for attempt in 1..=$crate::cold_path::TWIN_RETRIES {
                    let mut tx = self.$pool.begin_with($begin).await.map_err(db("finishing a job"))?;
                    let held = sqlx::query(concat!(
                        "SELECT kind, key, attempts FROM jobs WHERE id = $1 AND state = 'claimed' AND locked_by = $2",
                        $lock
                    ))
                    .bind(id)
                    .bind(worker)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("finishing a job"))?;
                    let Some(held) = held else { return Ok(false) };
                    let (kind, key): (String, String) = (held.get("kind"), held.get("key"));
                    let attempts: i64 = held.get("attempts");
                    let done = match outcome {
                        JobOutcome::Retry { at_ms, error } => {
                            requeue(&mut tx, id, &kind, &key, *at_ms, attempts, Some(error), now_ms).await
                        }
                        // Waiting is not failing: the claim gives its attempt back.
                        JobOutcome::Defer { at_ms } => {
                            requeue(&mut tx, id, &kind, &key, *at_ms, (attempts - 1).max(0), None, now_ms).await
                        }
                        JobOutcome::Done | JobOutcome::Dead { .. } => unreachable!("finished above"),
                    };
                    match done {
                        Ok(()) => {}
                        // A twin was queued between our look and our update: look again.
                        Err(e) if $crate::cold_path::is_unique_violation(&e)
                            && attempt < $crate::cold_path::TWIN_RETRIES => continue,
                        Err(e) => return Err(StoreError::Db { what: "finishing a job", source: e }),
                    }
                    tx.commit().await.map_err(db("finishing a job"))?;
                    return Ok(true);
                }
                unreachable!("the last attempt returns")
            }

            async fn jobs(&self, state: Option<JobState>, limit: u32) -> Result<Vec<Job>, StoreError> {
                let rows = sqlx::query(
                    "SELECT * FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) ORDER BY id LIMIT $2",
                )
                .bind(state.map(JobState::as_str))
                .bind(i64::from(limit))
                .fetch_all(&self.$pool)
                .await
                .map_err(db("listing jobs"))?;
                rows.iter().map(job_row).collect()
            }

            async fn job_counts(&self) -> Result<Vec<(String, JobState, u64)>, StoreError> {
                let rows = sqlx::query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state")
                    .fetch_all(&self.$pool)
                    .await
                    .map_err(db("counting jobs"))?;
                rows.iter()
                    .map(|r| {
                        Ok((r.get("kind"), $crate::cold_path::job_state(r.get("state"))?, r.get::<i64, _>("n") as u64))
                    })
                    .collect()
            }

            async fn retry_job(&self, id: i64, now_ms: i64) -> Result<Job, StoreError> {
                let _gate = self.gate().await;
                for attempt in 1..=$crate::cold_path::TWIN_RETRIES {
                    let mut tx = self.$pool.begin_with($begin).await.map_err(db("retrying a job"))?;
                    let row = sqlx::query(concat!("SELECT * FROM jobs WHERE id = $1", $lock))
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db("retrying a job"))?;
                    let job = match row.as_ref().map(job_row).transpose()? {
                        Some(j) if j.state != JobState::Claimed => j,
                        _ => return Err(StoreError::NoSuchJob(id)),
                    };
                    let done = match job.state {
                        JobState::Queued => sqlx::query(
                            "UPDATE jobs SET run_after = $1, attempts = 0, updated_ms = $1 WHERE id = $2",
                        )
                        .bind(now_ms)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map(|_| ()),
                        _ => requeue(&mut tx, id, &job.kind, &job.key, now_ms, 0, None, now_ms).await,
                    };
                    match done {
                        Ok(()) => {}
                        Err(e) if $crate::cold_path::is_unique_violation(&e)
                            && attempt < $crate::cold_path::TWIN_RETRIES => continue,
                        Err(e) => return Err(StoreError::Db { what: "retrying a job", source: e }),
                    }
                    // The job, or the twin it merged into.
                    let now = sqlx::query("SELECT * FROM jobs WHERE kind = $1 AND key = $2 AND state = 'queued'")
                        .bind(&job.kind)
                        .bind(&job.key)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db("retrying a job"))?;
                    let job = job_row(&now)?;
                    tx.commit().await.map_err(db("retrying a job"))?;
                    return Ok(job);
                }
                unreachable!("the last attempt returns")
            }

            async fn drop_job(&self, id: i64) -> Result<Job, StoreError> {
                let _gate = self.gate().await;
                let row = sqlx::query("DELETE FROM jobs WHERE id = $1 RETURNING *")
                    .bind(id)
                    .fetch_optional(&self.$pool)
                    .await
                    .map_err(db("dropping a job"))?;
                row.as_ref().map(job_row).transpose()?.ok_or(StoreError::NoSuchJob(id))
            }

            async fn resolve_fingerprint(&self, prefix: &str) -> Result<String, StoreError> {
                let prefix = prefix.to_ascii_lowercase();
                if !$crate::cold_path::valid_prefix(&prefix) {
                    return Err(StoreError::NoSuchIssue(prefix));
                }
                // A scan: this serves people typing a prefix, not the hot path.
                let found: Vec<String> = sqlx::query_scalar(
                    "SELECT fingerprint FROM issues WHERE substr(fingerprint, 1, CAST($2 AS INTEGER)) = $1
                     ORDER BY fingerprint LIMIT 10",
                )
                .bind(&prefix)
                .bind(prefix.len() as i64)
                .fetch_all(&self.$pool)
                .await
                .map_err(db("finding an issue"))?;
                match found.len() {
                    0 => Err(StoreError::NoSuchIssue(prefix)),
                    1 => Ok(found.into_iter().next().expect("one")),
                    matches => Err(StoreError::AmbiguousIssue { prefix, matches }),
                }
            }

            async fn issue_tickets(&self, fingerprint: &str) -> Result<Option<IssueTickets>, StoreError> {
                let Some(row) = sqlx::query("SELECT * FROM issues WHERE fingerprint = $1")
                    .bind(fingerprint)
                    .fetch_optional(&self.$pool)
                    .await
                    .map_err(db("reading an issue"))?
                else {
                    return Ok(None);
                };
                let pool = &self.$pool;
                let tickets = "SELECT * FROM tickets WHERE fingerprint = $1 ORDER BY round, provider";
                let tickets = of_issue(pool, tickets, fingerprint, "reading an issue's tickets", ticket_row).await?;
                let requests = "SELECT * FROM ticket_requests WHERE fingerprint = $1 ORDER BY round";
                let requests =
                    of_issue(pool, requests, fingerprint, "reading an issue's ticket requests", request_row).await?;
                Ok(Some(IssueTickets { issue: issue_row(&row), status_ms: row.get("status_ms"), tickets, requests }))
            }

            async fn issue_detail(&self, fingerprint: &str, samples: u32) -> Result<Option<IssueDetail>, StoreError> {
                let Some(IssueTickets { issue, status_ms, tickets, requests }) = self.issue_tickets(fingerprint).await?
                else {
                    return Ok(None);
                };
                let incidents = |order: &'static str, limit: i64| {
                    let sql = format!(
                        "SELECT * FROM incidents WHERE fingerprint = $1 ORDER BY COALESCE(seen_ms, ts) {order}, id LIMIT $2"
                    );
                    async move {
                        let rows = sqlx::query(&sql)
                            .bind(fingerprint)
                            .bind(limit)
                            .fetch_all(&self.$pool)
                            .await
                            .map_err(db("reading an issue's incidents"))?;
                        rows.iter().map(incident_row).collect::<Result<Vec<_>, _>>()
                    }
                };
                let Some(first) = incidents("ASC", 1).await?.into_iter().next() else {
                    return Err(StoreError::Corrupt { what: "issues", detail: format!("{fingerprint} has no incident") });
                };
                let latest = incidents("DESC", i64::from(samples.max(1))).await?;
                let urls: Vec<(Option<String>, i64)> = sqlx::query_as(
                    "SELECT url, COUNT(*) FROM incidents WHERE fingerprint = $1 GROUP BY url ORDER BY 2 DESC LIMIT 1000",
                )
                .bind(fingerprint)
                .fetch_all(&self.$pool)
                .await
                .map_err(db("reading an issue's pages"))?;
                let mut pages: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
                for (url, n) in urls {
                    if let Some(url) = url {
                        *pages.entry($crate::cold_path::page(&url).to_owned()).or_default() += n as u64;
                    }
                }
                let mut pages: Vec<(String, u64)> = pages.into_iter().collect();
                pages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                pages.truncate(samples.max(1) as usize);
                let explanation = sqlx::query("SELECT * FROM explanations WHERE fingerprint = $1")
                    .bind(fingerprint)
                    .fetch_optional(&self.$pool)
                    .await
                    .map_err(db("reading an issue's explanation"))?
                    .as_ref()
                    .map(explanation_row);
                let audit = concat!(
                    "SELECT at_ms, from_status, to_status, actor, note FROM issue_audit WHERE fingerprint = $1
                     ORDER BY at_ms, ",
                    $audit_order
                );
                let audit = of_issue(&self.$pool, audit, fingerprint, "reading an issue's audit trail", |r| {
                    Ok(AuditEntry {
                        at_ms: r.get("at_ms"),
                        from: r.get("from_status"),
                        to: r.get("to_status"),
                        actor: r.get("actor"),
                        reason: r.get("note"),
                    })
                })
                .await?;
                Ok(Some(IssueDetail { issue, status_ms, first, latest, pages, tickets, explanation, requests, audit }))
            }

            async fn sessions_since(&self, fingerprint: &str, since_ms: i64) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(DISTINCT sid) FROM incidents WHERE fingerprint = $1 AND COALESCE(seen_ms, ts) >= $2",
                )
                .bind(fingerprint)
                .bind(since_ms)
                .fetch_one(&self.$pool)
                .await
                .map_err(db("counting an issue's sessions"))?;
                Ok(n as u64)
            }

            async fn transition(
                &self,
                fingerprint: &str,
                to: IssueStatus,
                actor: Actor,
                reason: &str,
                now_ms: i64,
            ) -> Result<Option<IssueStatus>, StoreError> {
                let _gate = self.gate().await;
                let mut tx = self.$pool.begin_with($begin).await.map_err(db("moving an issue"))?;
                let status: Option<String> =
                    sqlx::query_scalar(concat!("SELECT status FROM issues WHERE fingerprint = $1", $lock))
                        .bind(fingerprint)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db("moving an issue"))?;
                let Some(status) = status else {
                    return Err(StoreError::NoSuchIssue(fingerprint.to_owned()));
                };
                let from = $crate::cold_path::issue_status(&status)?;
                if from == to {
                    return Ok(None);
                }
                if !$crate::allowed(from, to) {
                    return Err(StoreError::InvalidTransition {
                        fingerprint: fingerprint.to_owned(),
                        from: from.as_str(),
                        to: to.as_str(),
                    });
                }
                sqlx::query("UPDATE issues SET status = $1, status_ms = $2 WHERE fingerprint = $3")
                    .bind(to.as_str())
                    .bind(now_ms)
                    .bind(fingerprint)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("moving an issue"))?;
                let actor = actor.as_str();
                audit(&mut tx, fingerprint, now_ms, Some(from.as_str()), to.as_str(), actor, reason).await?;
                if matches!(to, IssueStatus::Open | IssueStatus::Regressed) {
                    let job = NewJob {
                        kind: $crate::JOB_TRIAGE.into(),
                        key: fingerprint.to_owned(),
                        payload: format!("{{\"reason\":\"{}\"}}", to.as_str()),
                        run_after: now_ms,
                    };
                    insert_job(&mut tx, &job, now_ms).await?;
                }
                tx.commit().await.map_err(db("moving an issue"))?;
                Ok(Some(from))
            }

            async fn record_ticket(&self, t: &Ticket, providers: &[&str]) -> Result<bool, StoreError> {
                let _gate = self.gate().await;
                let mut tx = self.$pool.begin_with($begin).await.map_err(db("recording a ticket"))?;
                let status: Option<String> =
                    sqlx::query_scalar(concat!("SELECT status FROM issues WHERE fingerprint = $1", $lock))
                        .bind(&t.fingerprint)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db("recording a ticket"))?;
                let Some(status) = status else {
                    return Err(StoreError::NoSuchIssue(t.fingerprint.clone()));
                };
                let inserted = sqlx::query(
                    "INSERT INTO tickets (fingerprint, provider, round, project, remote_id, key, url, remote_state,
                     created_ms, synced_ms, commented_ms, commented_incidents)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
                )
                .bind(&t.fingerprint)
                .bind(&t.provider)
                .bind(i64::from(t.round))
                .bind(&t.project)
                .bind(&t.remote_id)
                .bind(&t.key)
                .bind(&t.url)
                .bind(t.remote_state.as_str())
                .bind(t.created_ms)
                .bind(t.synced_ms)
                .bind(t.commented_ms)
                .bind(t.commented_incidents as i64)
                .execute(&mut *tx)
                .await
                .map_err(db("recording a ticket"))?;
                if inserted.rows_affected() == 0 {
                    return Ok(false);
                }
                let from = $crate::cold_path::issue_status(&status)?;
                if matches!(from, IssueStatus::Open | IssueStatus::Regressed) {
                    sqlx::query("UPDATE issues SET status = 'ticketed', status_ms = $1 WHERE fingerprint = $2")
                        .bind(t.created_ms)
                        .bind(&t.fingerprint)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("recording a ticket"))?;
                    let note = format!("filed {} {} {}", t.provider, t.key, t.url);
                    audit(&mut tx, &t.fingerprint, t.created_ms, Some(from.as_str()), "ticketed", "worker", &note)
                        .await?;
                }
                // Filed once every tracker has its ticket of the round.
                let mut q = QueryBuilder::<$db>::new("UPDATE ticket_requests SET state = 'filed', updated_ms = ");
                q.push_bind(t.created_ms);
                q.push(" WHERE fingerprint = ").push_bind(&t.fingerprint);
                q.push(" AND round = ").push_bind(i64::from(t.round));
                q.push(" AND state = 'approved' AND (SELECT COUNT(*) FROM tickets WHERE fingerprint = ");
                q.push_bind(&t.fingerprint).push(" AND round = ").push_bind(i64::from(t.round));
                q.push(" AND provider IN (");
                let mut list = q.separated(", ");
                for p in providers {
                    list.push_bind(*p);
                }
                q.push(")) = ").push_bind(providers.len() as i64);
                q.build().execute(&mut *tx).await.map_err(db("recording a ticket"))?;
                tx.commit().await.map_err(db("recording a ticket"))?;
                Ok(true)
            }

            async fn tickets(&self, f: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
                let mut q = QueryBuilder::<$db>::new("SELECT * FROM tickets WHERE 1 = 1");
                if let Some(p) = &f.provider {
                    q.push(" AND provider = ").push_bind(p.clone());
                }
                if let Some(fp) = &f.fingerprint {
                    q.push(" AND fingerprint = ").push_bind(fp.clone());
                }
                if !f.remote_states.is_empty() {
                    q.push(" AND remote_state IN (");
                    let mut list = q.separated(", ");
                    for s in &f.remote_states {
                        list.push_bind(s.as_str());
                    }
                    q.push(")");
                }
                let limit = if f.limit == 0 { i64::MAX } else { i64::from(f.limit) };
                q.push(" ORDER BY created_ms DESC, fingerprint, provider, round LIMIT ").push_bind(limit);
                let rows = q.build().fetch_all(&self.$pool).await.map_err(db("listing tickets"))?;
                rows.iter().map(ticket_row).collect()
            }

            async fn ticket_by_remote(&self, provider: &str, remote_id: &str) -> Result<Option<Ticket>, StoreError> {
                let row = sqlx::query(
                    "SELECT * FROM tickets WHERE provider = $1 AND (remote_id = $2 OR key = $2)
                     ORDER BY round DESC LIMIT 1",
                )
                .bind(provider)
                .bind(remote_id)
                .fetch_optional(&self.$pool)
                .await
                .map_err(db("finding a ticket"))?;
                row.as_ref().map(ticket_row).transpose()
            }

            async fn update_ticket(&self, t: &Ticket) -> Result<(), StoreError> {
                let _gate = self.gate().await;
                sqlx::query(
                    "UPDATE tickets SET key = $1, url = $2, remote_state = $3, synced_ms = $4, commented_ms = $5,
                     commented_incidents = $6 WHERE fingerprint = $7 AND provider = $8 AND round = $9",
                )
                .bind(&t.key)
                .bind(&t.url)
                .bind(t.remote_state.as_str())
                .bind(t.synced_ms)
                .bind(t.commented_ms)
                .bind(t.commented_incidents as i64)
                .bind(&t.fingerprint)
                .bind(&t.provider)
                .bind(i64::from(t.round))
                .execute(&self.$pool)
                .await
                .map_err(db("updating a ticket"))?;
                Ok(())
            }

            async fn put_request(&self, r: &TicketRequest) -> Result<bool, StoreError> {
                let _gate = self.gate().await;
                let mut tx = self.$pool.begin().await.map_err(db("storing a ticket request"))?;
                let stored = upsert_request(&mut tx, r, r.state).await?;
                tx.commit().await.map_err(db("storing a ticket request"))?;
                Ok(stored)
            }

            async fn requests(&self, states: &[RequestState]) -> Result<Vec<TicketRequest>, StoreError> {
                let mut q = QueryBuilder::<$db>::new("SELECT * FROM ticket_requests");
                if !states.is_empty() {
                    q.push(" WHERE state IN (");
                    let mut list = q.separated(", ");
                    for s in states {
                        list.push_bind(s.as_str());
                    }
                    q.push(")");
                }
                q.push(" ORDER BY created_ms, fingerprint, round");
                let rows = q.build().fetch_all(&self.$pool).await.map_err(db("listing ticket requests"))?;
                rows.iter().map(request_row).collect()
            }

            async fn approve(
                &self,
                fingerprint: &str,
                round: u32,
                actor: Actor,
                limit: Option<&RateLimit>,
                jobs: &[NewJob],
                now_ms: i64,
            ) -> Result<Approval, StoreError> {
                let _gate = self.gate().await;
                let mut tx = self.$pool.begin_with($begin).await.map_err(db("approving a ticket"))?;
                let row = sqlx::query(concat!(
                    "SELECT project, state FROM ticket_requests WHERE fingerprint = $1 AND round = $2",
                    $lock
                ))
                .bind(fingerprint)
                .bind(i64::from(round))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("approving a ticket"))?;
                let Some(row) = row else { return Ok(Approval::NotPending) };
                if row.get::<String, _>("state") != RequestState::Pending.as_str() {
                    return Ok(Approval::NotPending);
                }
                let project: String = row.get("project");
                let approval = approve_in(&mut tx, &project, fingerprint, round, actor, limit, jobs, now_ms).await?;
                if approval == Approval::Approved {
                    tx.commit().await.map_err(db("approving a ticket"))?;
                }
                Ok(approval)
            }

            async fn submit(
                &self,
                r: &TicketRequest,
                limit: &RateLimit,
                jobs: &[NewJob],
                now_ms: i64,
            ) -> Result<Approval, StoreError> {
                let _gate = self.gate().await;
                let mut tx = self.$pool.begin_with($begin).await.map_err(db("submitting a ticket"))?;
                let stored = upsert_request(&mut tx, r, RequestState::Pending).await?;
                if !stored {
                    return Ok(Approval::NotPending);
                }
                let approval =
                    approve_in(&mut tx, &r.project, &r.fingerprint, r.round, Actor::Rule, Some(limit), jobs, now_ms)
                        .await?;
                // Over the limit, the request stays stored as pending: the same commit.
                tx.commit().await.map_err(db("submitting a ticket"))?;
                Ok(approval)
            }

            async fn reject(&self, fingerprint: &str, round: u32, reason: &str, now_ms: i64) -> Result<bool, StoreError> {
                let _gate = self.gate().await;
                let done = sqlx::query(
                    "UPDATE ticket_requests SET state = 'rejected', reasons = $1, decided_ms = $2, decided_by = 'user',
                     updated_ms = $2 WHERE fingerprint = $3 AND round = $4 AND state IN ('held', 'pending')",
                )
                .bind(serde_json::to_string(&[reason]).expect("strings serialize"))
                .bind(now_ms)
                .bind(fingerprint)
                .bind(i64::from(round))
                .execute(&self.$pool)
                .await
                .map_err(db("rejecting a ticket"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn save_explanation(&self, e: &Explanation) -> Result<(), StoreError> {
                let _gate = self.gate().await;
                sqlx::query(
                    "INSERT INTO explanations (fingerprint, interpreter, model, prompt, evidence_hash, result, fallback,
                     input_tokens, output_tokens, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (fingerprint) DO UPDATE SET interpreter = excluded.interpreter,
                     model = excluded.model, prompt = excluded.prompt, evidence_hash = excluded.evidence_hash,
                     result = excluded.result, fallback = excluded.fallback, input_tokens = excluded.input_tokens,
                     output_tokens = excluded.output_tokens, created_ms = excluded.created_ms",
                )
                .bind(&e.fingerprint)
                .bind(&e.interpreter)
                .bind(&e.model)
                .bind(&e.prompt)
                .bind(&e.evidence_hash)
                .bind(&e.result)
                .bind(&e.fallback)
                .bind(e.input_tokens as i64)
                .bind(e.output_tokens as i64)
                .bind(e.created_ms)
                .execute(&self.$pool)
                .await
                .map_err(db("storing an explanation"))?;
                Ok(())
            }

            async fn take_ai_call(&self, project: &str, day: i64, budget: AiBudget) -> Result<bool, StoreError> {
                let _gate = self.gate().await;
                if budget.max_calls == 0 || budget.max_tokens == 0 {
                    return Ok(false);
                }
                let done = sqlx::query(
                    "INSERT INTO ai_usage (project, day, calls, tokens) VALUES ($1, $2, 1, 0)
                     ON CONFLICT (project, day) DO UPDATE SET calls = ai_usage.calls + 1
                     WHERE ai_usage.calls < $3 AND ai_usage.tokens < $4",
                )
                .bind(project)
                .bind(day)
                .bind(budget.max_calls.min(i64::MAX as u64) as i64)
                .bind(budget.max_tokens.min(i64::MAX as u64) as i64)
                .execute(&self.$pool)
                .await
                .map_err(db("spending the AI budget"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn add_ai_tokens(&self, project: &str, day: i64, tokens: u64) -> Result<(), StoreError> {
                let _gate = self.gate().await;
                sqlx::query("UPDATE ai_usage SET tokens = tokens + $1 WHERE project = $2 AND day = $3")
                    .bind(tokens.min(i64::MAX as u64) as i64)
                    .bind(project)
                    .bind(day)
                    .execute(&self.$pool)
                    .await
                    .map_err(db("spending the AI budget"))?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_cold_path;
