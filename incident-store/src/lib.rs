//! The incident store: where the hot path's results land.
//!
//! This crate owns projects and their hashed write keys, session summaries,
//! incidents (deterministic ids, so a replay stores nothing twice), issues
//! (incidents grouped across sessions by fingerprint, with exact counts of
//! sessions and users, first/last seen, severity and an audit trail), the
//! index of raw events kept for replay (the events stay in the log), and
//! what the cold path keeps: its job queue, tickets and enrichments.
//!
//! - [`IncidentStore`], [`RawEventStore`], [`ColdPathStore`]: the traits other backends fill in.
//! - [`SqliteStore`], [`SqliteEventStore`]: the embedded default, via sqlx.
//! - [`PgStore`], [`PgEventStore`]: the same on PostgreSQL, for scale-out.
//! - `sql`: the statements and write algorithm both backends share.
//! - `fingerprint`: incident ids, issue fingerprints, path templates, severity.
//! - `model`: the stored types and [`StoreError`].

mod fingerprint;
mod model;
mod postgres;
mod sql;
mod sqlite;

use std::future::Future;

pub use fingerprint::{incident_id, issue_fingerprint, path_template, severity, Reach, FINGERPRINT_VERSION};
pub use model::{
    Enrichment, EventRef, Incident, Issue, Job, JobOutcome, KeyInfo, KeyStatus, ListFilter, Project,
    StoreError, Ticket, WriteBatch, WriteStats,
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

/// What the cold path keeps: its job queue (leased claims, retries), the
/// tickets filed for issues and the issues' explanations. The hot path only
/// reads and writes [`IncidentStore`]; the cold path's workers use this.
pub trait ColdPathStore: Send + Sync + 'static {
    /// Queues a job of `kind` about `key`, due at `run_after_ms`; returns
    /// false, changing nothing, when one of that kind and key exists (live or finished).
    fn enqueue_job(
        &self,
        kind: &str,
        key: &str,
        payload: &str,
        run_after_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Claims up to `limit` due jobs of `kind` for `worker` until `now_ms +
    /// lease_ms`, oldest due first: queued ones due by `now_ms`, and claimed
    /// ones whose lease expired (their worker died). No job goes to two
    /// workers at once, however many claim together.
    fn claim_jobs(
        &self,
        kind: &str,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Job>, StoreError>> + Send;
    /// Ends a claim; returns false, changing nothing, when `worker` no longer
    /// holds the job (its lease expired and another claimed it).
    fn finish_job(
        &self,
        id: i64,
        worker: &str,
        outcome: &JobOutcome,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records a ticket filed for an issue and moves the issue to `ticketed`
    /// (from `open` or `regressed`), with an audit entry; returns false,
    /// changing nothing, when the issue has a ticket from that provider.
    fn record_ticket(&self, ticket: &Ticket) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The tickets of an issue.
    fn tickets(&self, fingerprint: &str) -> impl Future<Output = Result<Vec<Ticket>, StoreError>> + Send;
    /// Stores (or replaces) a model's explanation of an issue.
    fn save_enrichment(&self, e: &Enrichment) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The explanations of an issue, by model.
    fn enrichments(
        &self,
        fingerprint: &str,
    ) -> impl Future<Output = Result<Vec<Enrichment>, StoreError>> + Send;
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
