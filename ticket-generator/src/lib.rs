//! The cold path: every issue that matters becomes one explained ticket.
//!
//! This crate owns what happens after the hot path stored an issue and
//! queued a job about it (see [`ufse_incident_store::Triggers`]): workers
//! claim jobs from the store's queue with leases and heartbeats, retry
//! with backoff, and bury what keeps failing; triage explains the issue
//! (offline, or with OpenAI or Anthropic within a budget, always from
//! redacted evidence), decides by the ticket [`Policy`] whether it deserves
//! a ticket, checks the draft's readiness and asks for approval when the
//! gate is on; filing creates the ticket in Linear or Jira exactly once
//! (client-chosen ids, label searches) and records it; later occurrences
//! become update comments, regressions reopen tickets or file follow-ups,
//! and the trackers' states flow back by webhooks and a periodic pull.
//!
//! Nothing here runs on the hot path, and nothing here is deterministic in
//! the hot path's sense: the cold path reads the wall clock and the network.
//!
//! - [`config`]: `[cold_path]`, `[linear]`, `[jira]`, `[ai]`.
//! - [`Policy`]: which issues deserve a ticket, and the hot path's [`Triggers`](ufse_incident_store::Triggers).
//! - [`redact`](redact::redact): what must not leave the machine, taken out of it.
//! - `evidence`: what is known about an issue, redacted, with steps to reproduce.
//! - `interpret`: the [`Interpreter`]s (offline, OpenAI, Anthropic), output
//!   validation, caching, budget and fallback.
//! - `ticket`: the ticket [`Draft`], its readiness check, Markdown and ADF.
//! - `tracker`: the [`Tracker`]s (Linear's GraphQL, Jira's REST) behind one trait.
//! - `worker`: [`ColdPath`], the claim-run-finish loop, and `jobs`, what each job does.
//! - [`Webhooks`]: tracker webhooks, verified, turned into lifecycle moves.

pub mod config;
mod evidence;
mod http;
mod interpret;
mod jobs;
mod policy;
pub mod redact;
mod ticket;
mod tracker;
mod webhook;
mod worker;

use std::future::Future;
use std::pin::Pin;

pub use evidence::{ErrorFact, Evidence, RequestFact, Sample};
pub use interpret::{
    Answer, Anthropic, Explainer, InterpretError, Interpretation, Interpreter, Offline, OpenAi, LABELS,
    OFFLINE_MODEL, PROMPT, PROMPT_VERSION,
};
pub use policy::{Policy, PolicyError, Rule, DEFAULT_POLICY};
pub use ticket::{readiness, Draft};
pub use tracker::{
    jira_labels, linear_issue_id, Changed, Comment, Created, Jira, Linear, Tracker, TrackerError,
};
pub use webhook::{sign, WebhookAnswer, Webhooks};
pub use worker::{file_jobs, providers, triggers, ColdPath, ColdPathError, JOB_FILE, JOB_PULL, JOB_REOPEN};

/// A boxed future, for the object-safe traits here.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a session's events are read back from (the embedded log, or
/// ClickHouse), for steps to reproduce and the facts of the evidence.
pub trait Timelines: Send + Sync + 'static {
    /// The session's events in `(ts, seq)` order, each `seq` once; `None`
    /// when this deployment keeps no raw events to read.
    fn events<'a>(
        &'a self,
        project: &'a str,
        sid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ufse_schema::Event>>, String>>;
}

/// No raw events anywhere (Kafka without ClickHouse): explanations and
/// tickets are made from the incidents alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTimelines;

impl Timelines for NoTimelines {
    fn events<'a>(
        &'a self,
        _project: &'a str,
        _sid: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ufse_schema::Event>>, String>> {
        Box::pin(async { Ok(None) })
    }
}

/// The wall clock, ms since the epoch: the cold path's time.
pub fn system_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
