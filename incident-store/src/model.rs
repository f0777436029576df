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
    /// More than one issue's fingerprint starts with this prefix.
    #[error("`{prefix}` is the start of {matches} issues' fingerprints: give more of it")]
    AmbiguousIssue {
        /// What was given.
        prefix: String,
        /// How many issues it matches (at least two).
        matches: usize,
    },
    /// The lifecycle does not allow this move.
    #[error("issue {fingerprint} is {from}; it cannot become {to}")]
    InvalidTransition {
        /// The issue.
        fingerprint: String,
        /// Its status.
        from: &'static str,
        /// The status asked for.
        to: &'static str,
    },
    /// No job has this id.
    #[error("no job {0}")]
    NoSuchJob(i64),
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
    /// Resolved issues a new incident regressed.
    pub regressed_issues: u64,
    /// Jobs queued for the cold path (see [`Triggers`]).
    pub jobs_queued: u64,
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
    /// Skew-corrected time of `ts` (unknown for incidents stored before it was kept).
    pub seen_ms: Option<i64>,
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

/// Where a job of the cold path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting until it is due.
    Queued,
    /// Leased to a worker.
    Claimed,
    /// Given up after its attempts (the dead-letter state).
    Dead,
}

impl JobState {
    /// Every state, in order.
    pub const ALL: [JobState; 3] = [JobState::Queued, JobState::Claimed, JobState::Dead];

    /// The stable name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Claimed => "claimed",
            JobState::Dead => "dead",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A job of the cold path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// Its id, for [`finish_job`](crate::ColdPathStore::finish_job).
    pub id: i64,
    /// What to do (`triage`, `file`, ...).
    pub kind: String,
    /// What it is about (an issue fingerprint, ...): one queued job per kind and key.
    pub key: String,
    /// The job's input, JSON.
    pub payload: String,
    /// Where it is.
    pub state: JobState,
    /// Claims so far.
    pub attempts: u32,
    /// When it is due, ms.
    pub run_after: i64,
    /// The worker holding it, while claimed.
    pub locked_by: Option<String>,
    /// When the lease ends, while claimed.
    pub locked_until: Option<i64>,
    /// Why it last failed.
    pub last_error: Option<String>,
    /// When it was queued, ms.
    pub created_ms: i64,
    /// When it last changed, ms.
    pub updated_ms: i64,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done: the job is deleted.
    Done,
    /// Failed; queued again for `at_ms`.
    Retry {
        /// When it is due again, ms.
        at_ms: i64,
        /// Why it failed.
        error: String,
    },
    /// Not failed but not doable yet (a rate limit, an interval): queued
    /// again for `at_ms`, and the claim does not count as an attempt.
    Defer {
        /// When it is due again, ms.
        at_ms: i64,
    },
    /// Failed for good: the job goes to the dead-letter state.
    Dead {
        /// Why.
        error: String,
    },
}

/// The jobs one claim took, and the abandoned ones it gave up on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// Leased to the claiming worker.
    pub jobs: Vec<Job>,
    /// Jobs whose worker died holding them once too often: moved to `dead`.
    pub buried: u64,
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// What to do.
    pub kind: String,
    /// What it is about.
    pub key: String,
    /// Its input, JSON.
    pub payload: String,
    /// When it is due, ms.
    pub run_after: i64,
}

/// An issue's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    /// Opened by its first incident; no ticket yet.
    Open,
    /// A ticket tracks it.
    Ticketed,
    /// Fixed, by a person or the ticket's tracker.
    Resolved,
    /// A new incident came after it was resolved.
    Regressed,
    /// Not to be acted on; its counts still move.
    Ignored,
}

impl IssueStatus {
    /// Every status, in order.
    pub const ALL: [IssueStatus; 5] = [
        IssueStatus::Open,
        IssueStatus::Ticketed,
        IssueStatus::Resolved,
        IssueStatus::Regressed,
        IssueStatus::Ignored,
    ];

    /// The stable name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Open => "open",
            IssueStatus::Ticketed => "ticketed",
            IssueStatus::Resolved => "resolved",
            IssueStatus::Regressed => "regressed",
            IssueStatus::Ignored => "ignored",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Who moved an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The hot path, by rule (an issue opened or regressed).
    Rule,
    /// A person, from the command line.
    User,
    /// A tracker's webhook.
    Webhook,
    /// A cold-path worker (a ticket filed, a tracker's state pulled).
    Worker,
}

impl Actor {
    /// The stable name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Rule => "rule",
            Actor::User => "user",
            Actor::Webhook => "webhook",
            Actor::Worker => "worker",
        }
    }
}

/// One lifecycle change of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When, ms.
    pub at_ms: i64,
    /// The status before (none when the issue was opened).
    pub from: Option<String>,
    /// The status after.
    pub to: String,
    /// Who: `rule`, `user`, `webhook` or `worker`.
    pub actor: String,
    /// Why.
    pub reason: Option<String>,
}

/// An issue's severity (see [`crate::severity`]), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Friction.
    Low,
    /// Worth a look.
    Medium,
    /// Blocks users.
    High,
    /// Blocks many users.
    Critical,
}

impl Severity {
    /// The stable name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [Severity::Low, Severity::Medium, Severity::High, Severity::Critical]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One rule of the ticket policy, as the hot path checks it: an issue of
/// one of `kinds` (any when empty) at `min_severity` or more with
/// `min_sessions` or more affected sessions may deserve a ticket. (A
/// rule's window can only count fewer sessions: the cold path checks it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRule {
    /// Signal kinds it covers; empty, every kind.
    pub kinds: Vec<String>,
    /// The least severity.
    pub min_severity: Severity,
    /// The fewest affected sessions.
    pub min_sessions: u64,
}

/// What the hot path queues for the cold path as it stores incidents
/// (DESIGN.md: the hot path only enqueues).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Triggers {
    /// Whether anything is queued at all.
    pub enabled: bool,
    /// An untracked issue is triaged when its new incidents leave it meeting
    /// one of these (and so when it is opened meeting one); an issue that
    /// meets none is not worth a job.
    pub rules: Vec<TriggerRule>,
    /// How long after a new incident of a ticketed issue its update comment
    /// is due (at most one per interval).
    pub comment_delay_ms: i64,
}

/// A ticket filed for an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticket {
    /// The issue.
    pub fingerprint: String,
    /// Where it was filed (`linear`, `jira`).
    pub provider: String,
    /// 0 for the first ticket of the issue in this tracker, then one more
    /// for each follow-up filed after a regression.
    pub round: u32,
    /// The issue's project.
    pub project: String,
    /// The tracker's own id (Linear's issue UUID, Jira's issue id).
    pub remote_id: String,
    /// Its human key (`ENG-123`, `SHOP-7`).
    pub key: String,
    /// Its address.
    pub url: String,
    /// The tracker's state as last seen.
    pub remote_state: RemoteState,
    /// When it was filed, ms.
    pub created_ms: i64,
    /// When its state was last read or pushed, ms.
    pub synced_ms: i64,
    /// When the last update comment was posted, ms.
    pub commented_ms: Option<i64>,
    /// The issue's incidents as of that comment (or of filing).
    pub commented_incidents: u64,
}

/// A ticket's state in its tracker, as far as an issue's lifecycle cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteState {
    /// Not finished (to do, in progress, in review...).
    Open,
    /// Finished: the issue is resolved.
    Done,
    /// Closed without a fix (canceled, won't do, duplicate): the issue is ignored.
    Canceled,
}

impl RemoteState {
    /// The stable name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteState::Open => "open",
            RemoteState::Done => "done",
            RemoteState::Canceled => "canceled",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [RemoteState::Open, RemoteState::Done, RemoteState::Canceled].into_iter().find(|r| r.as_str() == s)
    }
}

/// Which tickets a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    /// Only this tracker.
    pub provider: Option<String>,
    /// Only this issue.
    pub fingerprint: Option<String>,
    /// Only these tracker states.
    pub remote_states: Vec<RemoteState>,
    /// At most this many, newest first (0: all).
    pub limit: u32,
}

/// Where a ticket request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// The readiness check failed; its reasons say why.
    Held,
    /// Ready, waiting to be approved: by a person (`ufse tickets approve`)
    /// when the approval gate is on, else by rule within the rate limit.
    Pending,
    /// Approved (by rule or by a person): its filing jobs are queued.
    Approved,
    /// Rejected by a person.
    Rejected,
    /// Filed with every tracker.
    Filed,
}

impl RequestState {
    /// Every state, in order.
    pub const ALL: [RequestState; 5] = [
        RequestState::Held,
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Rejected,
        RequestState::Filed,
    ];

    /// The stable name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Held => "held",
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
            RequestState::Filed => "filed",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A ticket the policy asked for, before it is filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketRequest {
    /// The issue.
    pub fingerprint: String,
    /// Which ticket of the issue (0 the first, then follow-ups).
    pub round: u32,
    /// The issue's project.
    pub project: String,
    /// Where it is.
    pub state: RequestState,
    /// Why it is held (the readiness check's findings).
    pub reasons: Vec<String>,
    /// The ticket as it would be filed (JSON).
    pub draft: String,
    /// When it was first asked for, ms.
    pub created_ms: i64,
    /// When it last changed, ms.
    pub updated_ms: i64,
    /// When it was approved or rejected, ms.
    pub decided_ms: Option<i64>,
    /// Who approved or rejected it (`rule` or `user`).
    pub decided_by: Option<String>,
}

/// The automation's rate limit: a token bucket per project holding `max`
/// approvals by rule and refilled with `max` every `window_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Approvals by rule allowed per project in a window (and at most in a burst).
    pub max: u32,
    /// The window, ms.
    pub window_ms: i64,
}

/// How an approval ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Approved; its filing jobs are queued.
    Approved,
    /// Over the rate limit: nothing changed; a slot frees at this time, ms.
    Limited {
        /// When the bucket holds an approval again.
        retry_at: i64,
    },
    /// Nothing to approve: no such request, or it is not waiting.
    NotPending,
}

/// An issue explained, by the configured interpreter or the offline one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The issue.
    pub fingerprint: String,
    /// `offline`, `openai`, `anthropic`.
    pub interpreter: String,
    /// The model (the interpreter's version for `offline`).
    pub model: String,
    /// The prompt's version.
    pub prompt: String,
    /// A digest of the evidence it was given: the same evidence, model and
    /// prompt give the same explanation, which is reused.
    pub evidence_hash: String,
    /// What it said (JSON: title, summary, probable cause, ...).
    pub result: String,
    /// Why the offline interpreter answered instead of the configured one.
    pub fallback: Option<String>,
    /// Tokens sent.
    pub input_tokens: u64,
    /// Tokens received.
    pub output_tokens: u64,
    /// When, ms.
    pub created_ms: i64,
}

/// A share of a project's daily AI budget, taken before a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiBudget {
    /// Calls allowed per project and UTC day.
    pub max_calls: u64,
    /// Tokens allowed per project and UTC day.
    pub max_tokens: u64,
}

/// An issue with its tickets and ticket requests: what filing, reopening,
/// commenting and a tracker's news read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssueTickets {
    /// The issue.
    pub issue: Issue,
    /// When its status last changed, ms.
    pub status_ms: i64,
    /// Its tickets.
    pub tickets: Vec<Ticket>,
    /// Its pending or decided ticket requests.
    pub requests: Vec<TicketRequest>,
}

/// Everything about one issue that `ufse issues show` and the ticket
/// generator read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssueDetail {
    /// The issue.
    pub issue: Issue,
    /// When its status last changed, ms.
    pub status_ms: i64,
    /// Its first incident.
    pub first: Incident,
    /// Its latest incidents, newest first.
    pub latest: Vec<Incident>,
    /// Pages where it happened (query strings and fragments left out), with
    /// their incidents, most first.
    pub pages: Vec<(String, u64)>,
    /// Its tickets.
    pub tickets: Vec<Ticket>,
    /// Its explanation, if one was made.
    pub explanation: Option<Explanation>,
    /// Its pending or decided ticket requests.
    pub requests: Vec<TicketRequest>,
    /// Every lifecycle change, oldest first.
    pub audit: Vec<AuditEntry>,
}
