//! What the store holds and answers, independent of the database.

use serde::Serialize;
use ufse_sessionizer::{SessionSignal, SessionSummary, StoredEvents};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed.
    #[error("database error on {what}: {source}")]
    Db {
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate {path}: {source}")]
    Migrate {
        /// The database (a file, or a URL and schema).
        path: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A project name outside `[A-Za-z0-9_-]{1,64}`.
    #[error("invalid project name `{0}`: use 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")]
    InvalidProjectName(String),
    /// A PostgreSQL schema name outside `[A-Za-z0-9_-]{1,64}`.
    #[error("invalid schema name `{0}`: use 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")]
    InvalidSchemaName(String),
    /// The project exists already.
    #[error("project `{0}` already exists")]
    ProjectExists(String),
    /// No such project.
    #[error("no project named `{0}`")]
    NoSuchProject(String),
    /// No issue has this fingerprint.
    #[error("no issue with fingerprint `{0}`")]
    NoSuchIssue(String),
    /// The key is not known (revoking).
    #[error("no such key `{0}`")]
    NoSuchKey(String),
    /// Stored data that does not parse.
    #[error("corrupt stored data in {what}: {detail}")]
    Corrupt {
        /// Where.
        what: &'static str,
        /// What.
        detail: String,
    },
}

pub(crate) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Db { what, source }
}

/// A project and its keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// Unique name.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// Origins allowed to send from a browser; `*` is any.
    pub allowed_origins: Vec<String>,
    /// Distinct sessions seen (for the share of sessions an issue affects).
    pub sessions: u64,
    /// Its keys (never the keys themselves: a prefix and state).
    pub keys: Vec<KeyInfo>,
}

/// One write key, as listings show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyInfo {
    /// First characters of the key.
    pub prefix: String,
    /// Creation time.
    pub created_ms: i64,
    /// Revocation time, if revoked.
    pub revoked_ms: Option<i64>,
}

/// What a key digest resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    /// A live key of this project.
    Active {
        /// Project name.
        project: String,
        /// Origins allowed to send from a browser; `*` is any.
        allowed_origins: Vec<String>,
    },
    /// A revoked key.
    Revoked,
    /// Not a key.
    Unknown,
}

/// Where a session's new unique events of one log record are: the record's
/// position, which is also what makes writing it twice a no-op.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRef {
    /// Log partition.
    pub partition: u32,
    /// Offset of the record in the partition.
    pub offset: u64,
    /// The session and what the record added to it.
    pub events: StoredEvents,
}

/// Everything one processing step derived, written in one transaction.
#[derive(Debug, Default)]
pub struct WriteBatch {
    /// Signals to store as incidents.
    pub signals: Vec<SessionSignal>,
    /// Session summaries to upsert.
    pub summaries: Vec<SessionSummary>,
}

/// What a write changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// Incidents that were new.
    pub new_incidents: u64,
    /// Incidents already stored (replays).
    pub known_incidents: u64,
    /// Issues opened.
    pub new_issues: u64,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Deterministic id.
    pub id: String,
    /// Project.
    pub project: String,
    /// Issue fingerprint.
    pub issue: String,
    /// Profile that produced it.
    pub profile: String,
    /// Signal kind.
    pub kind: String,
    /// Session.
    pub sid: String,
    /// User.
    pub uid: Option<String>,
    /// First evidence, client time.
    pub ts: i64,
    /// Last evidence, client time.
    pub end_ts: i64,
    /// Clicks (click kinds) or 1.
    pub count: u32,
    /// `seq`s of the evidence.
    pub evidence: Vec<u64>,
    /// Selector.
    pub sel: Option<String>,
    /// Page.
    pub url: Option<String>,
}

/// A stored issue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// Fingerprint (the issue's id).
    pub fingerprint: String,
    /// Project.
    pub project: String,
    /// Signal kind.
    pub kind: String,
    /// Host and path template.
    pub url_template: String,
    /// Selector.
    pub sel: Option<String>,
    /// Lifecycle state.
    pub status: String,
    /// See [`crate::severity`].
    pub severity: String,
    /// Incidents.
    pub incidents: u64,
    /// Distinct sessions.
    pub sessions: u64,
    /// Distinct users.
    pub users: u64,
    /// First incident, skew-corrected ms.
    pub first_seen: i64,
    /// Last incident, skew-corrected ms.
    pub last_seen: i64,
    /// A page where it happened.
    pub example_url: Option<String>,
}

/// Filters of `incidents list` and `issues list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFilter {
    /// Project name.
    pub project: String,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only at or after this time (ms; incidents by `ts`, issues by `last_seen`).
    pub since_ms: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// A job of the cold path, as a worker claimed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// Its id, for [`finish_job`](crate::ColdPathStore::finish_job).
    pub id: i64,
    /// What to do (`enrich`, `ticket`, ...).
    pub kind: String,
    /// What it is about (an issue fingerprint, ...): one live job per kind and key.
    pub key: String,
    /// The job's input, JSON.
    pub payload: String,
    /// Claims so far, this one included.
    pub attempts: u32,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done; it is not run again.
    Done,
    /// Failed; to be claimed again from `at_ms`.
    Retry {
        /// When it is due again, ms.
        at_ms: i64,
        /// Why it failed.
        error: String,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: String,
    },
}

/// A ticket filed for an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    /// The issue.
    pub fingerprint: String,
    /// Where it was filed (`linear`, `jira`).
    pub provider: String,
    /// The tracker's id (`ENG-123`).
    pub external_id: String,
    /// The ticket's address.
    pub url: String,
    /// When it was filed, ms.
    pub created_ms: i64,
}

/// An issue explained by a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enrichment {
    /// The issue.
    pub fingerprint: String,
    /// The model that wrote it.
    pub model: String,
    /// What it wrote.
    pub summary: String,
    /// When, ms.
    pub created_ms: i64,
}
