//! The incident store: where the hot path's results land.
//!
//! This crate owns projects and their hashed write keys, session summaries,
//! incidents (deterministic ids, so a replay stores nothing twice), issues
//! (incidents grouped across sessions by fingerprint, with exact counts of
//! sessions and users, first/last seen, severity and an audit trail), the
//! index of raw events kept for replay (the events stay in the log), and
//! what the cold path keeps: its job queue, the issue lifecycle, tickets
//! and ticket requests, explanations and the AI budget.
//!
//! - [`IncidentStore`], [`RawEventStore`], [`ColdPathStore`]: the traits other backends fill in.
//! - [`SqliteStore`], [`SqliteEventStore`]: the embedded default, via sqlx.
//! - [`PgStore`], [`PgEventStore`]: the same on PostgreSQL, for scale-out.
//! - `sql`: the statements and write algorithm both backends share;
//!   `cold_path`: the same for [`ColdPathStore`].
//! - `lifecycle`: the issue lifecycle's allowed moves and what the hot path queues.
//! - `fingerprint`: incident ids, issue fingerprints, path templates, severity.
//! - `model`: the stored types and [`StoreError`].

mod cold_path;
mod fingerprint;
mod lifecycle;
mod model;
mod postgres;
mod sql;
mod sqlite;

use std::future::Future;

pub use fingerprint::{incident_id, issue_fingerprint, path_template, severity, Reach, FINGERPRINT_VERSION};
pub use lifecycle::{allowed, JOB_COMMENT, JOB_TRIAGE};
pub use model::{
    Actor, AiBudget, Approval, AuditEntry, Claimed, EventRef, Explanation, Incident, Issue, IssueDetail,
    IssueStatus, IssueTickets, Job, JobOutcome, JobState, KeyInfo, KeyStatus, ListFilter, NewJob, Project,
    RateLimit, RemoteState, RequestState, Severity, StoreError, Ticket, TicketFilter, TicketRequest,
    TriggerRule, Triggers, WriteBatch, WriteStats,
};
pub use postgres::{PgEventStore, PgStore};
pub use sqlite::{SqliteEventStore, SqliteStore};

use sha2::{Digest, Sha256};
use ufse_sessionizer::SessionSummary;

/// The digest a write key is stored and looked up by.
pub fn key_digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random write key: `uk_` and 32 hex digits (128 bits).
///
/// # Panics
///
/// If the operating system has no randomness to give.
pub fn new_key() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the OS random source is available");
    format!("uk_{}", hex::encode(b))
}

/// Whether `name` can be a project name: 1 to 64 of `[A-Za-z0-9_-]`
/// (never `:`, which separates project and sid in log keys).
pub fn valid_project_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Projects, keys, sessions, incidents and issues.
pub trait IncidentStore: Send + Sync + 'static {
    /// Creates a project with one key; returns the key (shown once, stored as a digest).
    fn create_project(
        &self,
        name: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// Creates project `default` if there are no projects; returns its key if it did.
    fn ensure_default_project(
        &self,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// All projects with their keys' prefixes and states.
    fn list_projects(&self) -> impl Future<Output = Result<Vec<Project>, StoreError>> + Send;
    /// Sets the origins allowed to send from a browser (`*` for any).
    fn set_allowed_origins(
        &self,
        project: &str,
        origins: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Issues a new key for an existing project and revokes all its others;
    /// returns the new key (shown once, stored as a digest).
    fn rotate_key(
        &self,
        project: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// Revokes a key; its project's other keys keep working.
    fn revoke_key(&self, key: &str, now_ms: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Resolves a key digest (see [`key_digest`]).
    fn lookup_key(&self, digest: &str) -> impl Future<Output = Result<KeyStatus, StoreError>> + Send;
    /// Stores what one processing step derived, atomically and idempotently.
    fn write(
        &self,
        profile: &str,
        batch: &WriteBatch,
    ) -> impl Future<Output = Result<WriteStats, StoreError>> + Send;
    /// Incidents, newest first.
    fn incidents(
        &self,
        filter: &ListFilter,
    ) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;
    /// Issues, most recently seen first.
    fn issues(&self, filter: &ListFilter) -> impl Future<Output = Result<Vec<Issue>, StoreError>> + Send;
    /// The parts of one session, in order.
    fn session(
        &self,
        project: &str,
        sid: &str,
    ) -> impl Future<Output = Result<Vec<SessionSummary>, StoreError>> + Send;
    /// Stores a processor's snapshot of one log partition under `scope`, unless one at a later
    /// offset is stored already (a member that lost the partition may still be writing); returns
    /// whether it was stored.
    fn save_partition_state(
        &self,
        scope: &str,
        partition: u32,
        next_offset: u64,
        state: &[u8],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The snapshot of one log partition under `scope`, with the offset it resumes at.
    fn load_partition_state(
        &self,
        scope: &str,
        partition: u32,
    ) -> impl Future<Output = Result<Option<(u64, Vec<u8>)>, StoreError>> + Send;
    /// Closes the connections, waiting for those in use to finish.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// What the cold path keeps: its job queue (leased claims, retries, a
/// dead-letter state), the issue lifecycle, the tickets filed for issues
/// and the requests for them, issue explanations and the AI budget. The
/// hot path only writes [`IncidentStore`] (which queues jobs as
/// [`Triggers`] say); the cold path's workers and the command line use this.
pub trait ColdPathStore: Send + Sync + 'static {
    /// Queues `job`; returns false, changing nothing, when one of its kind
    /// and key is queued already.
    fn enqueue_job(&self, job: &NewJob, now_ms: i64)
        -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Leases up to `limit` due jobs to `worker` until `now_ms + lease_ms`,
    /// oldest due first: queued ones due by `now_ms`, and claimed ones whose
    /// lease expired (their worker died). A job abandoned that way with
    /// `max_attempts` claims behind it goes to `dead` instead. No job goes
    /// to two workers at once, however many claim together.
    fn claim_jobs(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
        max_attempts: u32,
    ) -> impl Future<Output = Result<Claimed, StoreError>> + Send;
    /// Extends `worker`'s leases on `ids` until `until_ms`; returns the ids
    /// it still held (a lease that expired and went to another worker is lost).
    fn extend_leases(
        &self,
        ids: &[i64],
        worker: &str,
        until_ms: i64,
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send;
    /// Ends a claim; returns false, changing nothing, when `worker` no longer
    /// holds the job. A job queued again while a twin of its kind and key
    /// was queued meanwhile merges into the twin.
    fn finish_job(
        &self,
        id: i64,
        worker: &str,
        outcome: &JobOutcome,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Jobs, in `state` if given, oldest first.
    fn jobs(
        &self,
        state: Option<JobState>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;
    /// How many jobs there are, by kind and state.
    fn job_counts(&self) -> impl Future<Output = Result<Vec<(String, JobState, u64)>, StoreError>> + Send;
    /// Queues a dead (or queued) job again, due now, with its attempts
    /// forgiven; a claimed one is left to its worker.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchJob`] when there is no such job, or it is claimed.
    fn retry_job(&self, id: i64, now_ms: i64) -> impl Future<Output = Result<Job, StoreError>> + Send;
    /// Deletes a job, whatever its state (a worker holding it can no longer finish it).
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchJob`] when there is no such job.
    fn drop_job(&self, id: i64) -> impl Future<Output = Result<Job, StoreError>> + Send;

    /// The fingerprint of the one issue whose fingerprint starts with `prefix`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchIssue`], or [`StoreError::AmbiguousIssue`] when several match.
    fn resolve_fingerprint(&self, prefix: &str) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// Everything about one issue, with up to `samples` latest incidents and pages.
    fn issue_detail(
        &self,
        fingerprint: &str,
        samples: u32,
    ) -> impl Future<Output = Result<Option<IssueDetail>, StoreError>> + Send;
    /// An issue with its tickets and requests (less than [`issue_detail`](Self::issue_detail) reads).
    fn issue_tickets(
        &self,
        fingerprint: &str,
    ) -> impl Future<Output = Result<Option<IssueTickets>, StoreError>> + Send;
    /// Distinct sessions with an incident of the issue seen at or after `since_ms`.
    fn sessions_since(
        &self,
        fingerprint: &str,
        since_ms: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Moves an issue to `to` as the lifecycle allows ([`allowed`]), with an
    /// audit entry; queues a triage when it becomes open or regressed.
    /// Returns the status it left, or `None` when it was there already.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchIssue`], or [`StoreError::InvalidTransition`].
    fn transition(
        &self,
        fingerprint: &str,
        to: IssueStatus,
        actor: Actor,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<IssueStatus>, StoreError>> + Send;

    /// Records a ticket the tracker created, and moves its issue to
    /// `ticketed` (from open or regressed) with an audit entry by the
    /// worker, and its request to `filed` once every provider in
    /// `providers` has its ticket of that round; returns false, changing
    /// nothing, when the issue has that ticket already.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchIssue`].
    fn record_ticket(
        &self,
        ticket: &Ticket,
        providers: &[&str],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Tickets, newest first.
    fn tickets(&self, filter: &TicketFilter) -> impl Future<Output = Result<Vec<Ticket>, StoreError>> + Send;
    /// The ticket a tracker knows by `remote_id` (or by its key).
    fn ticket_by_remote(
        &self,
        provider: &str,
        remote_id: &str,
    ) -> impl Future<Output = Result<Option<Ticket>, StoreError>> + Send;
    /// Stores what the tracker said of a ticket (its state as of `synced_ms`)
    /// and what was last commented on it.
    fn update_ticket(&self, ticket: &Ticket) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a request as triage made it (held with its reasons, or
    /// pending), unless the request of that issue and round was decided
    /// already; returns whether it was stored.
    fn put_request(&self, request: &TicketRequest) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Ticket requests in `states` (all when empty), oldest first.
    fn requests(
        &self,
        states: &[RequestState],
    ) -> impl Future<Output = Result<Vec<TicketRequest>, StoreError>> + Send;
    /// Approves the pending request of `fingerprint` and `round` and queues
    /// `jobs` (its filings), atomically; with `limit`, only while the
    /// project has fewer than `limit.max` approvals by rule in its window.
    fn approve(
        &self,
        fingerprint: &str,
        round: u32,
        actor: Actor,
        limit: Option<&RateLimit>,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> impl Future<Output = Result<Approval, StoreError>> + Send;
    /// Stores a ready request (as [`put_request`](Self::put_request) would)
    /// and approves it by rule within `limit`, queueing `jobs`, in one
    /// transaction: [`Approval::NotPending`] when it was decided already,
    /// [`Approval::Limited`] (and it stays pending) when over the limit.
    fn submit(
        &self,
        request: &TicketRequest,
        limit: &RateLimit,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> impl Future<Output = Result<Approval, StoreError>> + Send;
    /// Rejects a held or pending request, with an audit entry by the user;
    /// returns false when there was none.
    fn reject(
        &self,
        fingerprint: &str,
        round: u32,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores (or replaces) the explanation of an issue.
    fn save_explanation(&self, e: &Explanation) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Takes one call from `project`'s budget for UTC day `day`; false when
    /// the day's calls or tokens are spent.
    fn take_ai_call(
        &self,
        project: &str,
        day: i64,
        budget: AiBudget,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Counts tokens a call used against `project`'s day.
    fn add_ai_tokens(
        &self,
        project: &str,
        day: i64,
        tokens: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The index of raw events kept for replay: which log records hold each
/// session's events (the log keeps them; see `ufse-event-log` retention).
pub trait RawEventStore: Send + Sync + 'static {
    /// Records where events are; a position already recorded is skipped.
    fn write_refs(&self, refs: &[EventRef]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// The log positions `(partition, offset)` holding one session's events, in log order.
    fn session_refs(
        &self,
        project: &str,
        sid: &str,
    ) -> impl Future<Output = Result<Vec<(u32, u64)>, StoreError>> + Send;
    /// Forgets positions below each partition's oldest retained offset (`start[partition]`).
    fn prune(&self, start: &[u64]) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Closes the connections, waiting for those in use to finish.
    fn close(&self) -> impl Future<Output = ()> + Send;
}
