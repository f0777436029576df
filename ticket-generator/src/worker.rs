//! The cold path's workers: claim due jobs with a lease, run up to
//! `concurrency` at once, renew the leases while they run (heartbeats),
//! then finish each: done, deferred, retried after a backoff (exponential
//! with full jitter, or the tracker's `Retry-After`), or buried in the
//! dead-letter state after `max_attempts`. A worker that dies leaves its
//! leases to expire; another worker claims those jobs again.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram};
use tokio::task::JoinSet;
use ufse_incident_store::{ColdPathStore, Job, JobOutcome, JobState, NewJob, StoreError, Triggers};

use crate::config::{AiConfig, ColdPathConfig, JiraConfig, LinearConfig};
use crate::interpret::Explainer;
use crate::tracker::{Jira, Linear, Tracker, TrackerError};
use crate::{system_ms, Policy, Timelines};

/// Job kind: file one approved ticket request with one tracker (key
/// `fingerprint/round/provider`).
pub const JOB_FILE: &str = "file";
/// Job kind: reopen a regressed issue's ticket in one tracker (key `fingerprint/provider`).
pub const JOB_REOPEN: &str = "reopen";
/// Job kind: read back what changed in one tracker (key: the tracker), then queue the next pull.
pub const JOB_PULL: &str = "pull";

/// Why the cold path cannot start, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ColdPathError {
    /// The configuration is incomplete or invalid.
    #[error("{0}")]
    Config(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How a job went, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Done.
    Done,
    /// Not yet: run again at this time (a rate limit, an interval), without spending an attempt.
    Defer(i64),
}

/// How a job failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobError {
    /// Worth trying again, not before `after` when the provider said.
    Retry { message: String, after: Option<Duration> },
    /// Trying again will not help.
    Permanent(String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Corrupt { .. } => JobError::Permanent(e.to_string()),
            e => JobError::Retry { message: e.to_string(), after: None },
        }
    }
}

impl From<TrackerError> for JobError {
    fn from(e: TrackerError) -> Self {
        match e {
            TrackerError::Retry { message, after } => JobError::Retry { message, after },
            TrackerError::Permanent(m) => JobError::Permanent(m),
        }
    }
}

/// The cold path of one process: its configuration, trackers and
/// interpreter, over a store every worker of the deployment shares.
pub struct ColdPath<S> {
    pub(crate) store: S,
    pub(crate) cfg: ColdPathConfig,
    pub(crate) policy: Policy,
    pub(crate) trackers: Vec<Arc<dyn Tracker>>,
    pub(crate) explainer: Explainer,
    pub(crate) timelines: Arc<dyn Timelines>,
    worker: String,
}

impl<S: ColdPathStore + Clone> ColdPath<S> {
    /// A cold path over `store`, as its parts say; `worker` names this
    /// process in leases (unique per process).
    pub fn new(
        store: S,
        cfg: ColdPathConfig,
        policy: Policy,
        trackers: Vec<Arc<dyn Tracker>>,
        explainer: Explainer,
        timelines: Arc<dyn Timelines>,
        worker: String,
    ) -> Self {
        ColdPath { store, cfg, policy, trackers, explainer, timelines, worker }
    }

    /// The cold path the configuration sections describe: the policy file
    /// (or the built-in policy), a tracker for each whose key is set, and
    /// the interpreter `[ai]` names.
    ///
    /// # Errors
    ///
    /// When the policy file cannot be read or is invalid, or a tracker or
    /// the interpreter is half configured.
    pub fn from_config(
        store: S,
        cold: &ColdPathConfig,
        linear: &LinearConfig,
        jira: &JiraConfig,
        ai: &AiConfig,
        timelines: Arc<dyn Timelines>,
    ) -> Result<Self, ColdPathError> {
        let policy = load_policy(cold)?;
        let mut trackers: Vec<Arc<dyn Tracker>> = Vec::new();
        if linear.enabled() {
            trackers.push(Arc::new(Linear::from_config(linear).map_err(ColdPathError::Config)?));
        }
        if jira.enabled() {
            trackers.push(Arc::new(Jira::from_config(jira).map_err(ColdPathError::Config)?));
        }
        let explainer = Explainer::from_config(ai).map_err(ColdPathError::Config)?;
        let worker = format!("{}-{:08x}", std::process::id(), fastrand::u32(..));
        Ok(ColdPath::new(store, cold.clone(), policy, trackers, explainer, timelines, worker))
    }

    /// The trackers tickets go to.
    pub fn providers(&self) -> Vec<&'static str> {
        self.trackers.iter().map(|t| t.name()).collect()
    }

    /// The jobs that file ticket `round` of `fingerprint` with each tracker.
    pub fn file_jobs(&self, fingerprint: &str, round: u32, now_ms: i64) -> Vec<NewJob> {
        file_jobs(fingerprint, round, &self.providers(), now_ms)
    }

    /// Runs workers until `shutdown` resolves, then lets the jobs in hand
    /// finish. Store failures are waited out.
    pub async fn run(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let concurrency = self.cfg.concurrency.max(1) as usize;
        let lease = self.cfg.lease();
        let poll = Duration::from_millis(self.cfg.poll_interval_ms.max(10));
        let mut running: JoinSet<(Job, Result<Step, JobError>, Duration)> = JoinSet::new();
        let mut held: BTreeSet<i64> = BTreeSet::new();
        let mut stopping = false;
        let mut next_heartbeat = Instant::now() + lease / 3;
        let mut next_gauges = Instant::now();
        self.schedule_pulls().await;
        tracing::info!(worker = %self.worker, trackers = ?self.providers(), ai = self.explainer.uses_ai(), "cold path running");
        loop {
            // Claims in batches: one claim per quarter of the slots freed, not one per job.
            if !stopping && concurrency - running.len() >= (concurrency / 4).max(1) {
                let free = (concurrency - running.len()) as u32;
                let now = system_ms();
                match self
                    .store
                    .claim_jobs(&self.worker, now, lease.as_millis() as i64, free, self.cfg.max_attempts)
                    .await
                {
                    Ok(claimed) => {
                        if claimed.buried > 0 {
                            counter!("ufse_cold_path_jobs_buried_total").increment(claimed.buried);
                            tracing::warn!(
                                jobs = claimed.buried,
                                "jobs whose workers kept dying went to the dead-letter state"
                            );
                        }
                        for job in claimed.jobs {
                            held.insert(job.id);
                            let this = Arc::clone(&self);
                            running.spawn(async move {
                                let started = Instant::now();
                                let r = this.handle(&job).await;
                                (job, r, started.elapsed())
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "claiming jobs failed; trying again"),
                }
            }
            if stopping && running.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some(done) = running.join_next(), if !running.is_empty() => match done {
                    Ok((job, result, took)) => {
                        held.remove(&job.id);
                        self.finish(&job, result, took).await;
                    }
                    Err(e) => tracing::error!(error = %e, "a job's task failed"),
                },
                () = &mut shutdown, if !stopping => {
                    tracing::info!(jobs = running.len(), "cold path stopping: finishing the jobs in hand");
                    stopping = true;
                }
                // Idle, or every slot busy: look again (and renew leases) after a while.
                () = tokio::time::sleep(poll) => {}
            }
            if Instant::now() >= next_heartbeat {
                next_heartbeat = Instant::now() + lease / 3;
                let ids: Vec<i64> = held.iter().copied().collect();
                let until = system_ms() + lease.as_millis() as i64;
                match self.store.extend_leases(&ids, &self.worker, until).await {
                    Ok(kept) if kept.len() < ids.len() => {
                        tracing::warn!(lost = ids.len() - kept.len(), "leases lost to other workers");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "renewing leases failed"),
                }
            }
            if Instant::now() >= next_gauges {
                next_gauges = Instant::now() + Duration::from_secs(5);
                self.queue_gauges().await;
            }
        }
        tracing::info!("cold path stopped");
    }

    /// Queues a pull of each tracker's changes, unless one is queued.
    async fn schedule_pulls(&self) {
        if self.cfg.pull_interval_ms == 0 {
            return;
        }
        let now = system_ms();
        for t in &self.trackers {
            let job = NewJob {
                kind: JOB_PULL.into(),
                key: t.name().into(),
                payload: serde_json::json!({"since": now - 86_400_000}).to_string(),
                run_after: now,
            };
            if let Err(e) = self.store.enqueue_job(&job, now).await {
                tracing::error!(error = %e, tracker = t.name(), "cannot queue the tracker's pull");
            }
        }
    }

    async fn queue_gauges(&self) {
        let Ok(counts) = self.store.job_counts().await else { return };
        for state in JobState::ALL {
            let n: u64 = counts.iter().filter(|(_, s, _)| *s == state).map(|(_, _, n)| n).sum();
            gauge!("ufse_cold_path_jobs", "state" => state.as_str()).set(n as f64);
        }
    }

    /// Ends a job's claim as `result` says.
    async fn finish(&self, job: &Job, result: Result<Step, JobError>, took: Duration) {
        let now = system_ms();
        let kind = job_kind(&job.kind);
        histogram!("ufse_cold_path_job_seconds", "kind" => kind).record(took.as_secs_f64());
        let outcome = match result {
            Ok(Step::Done) => JobOutcome::Done,
            Ok(Step::Defer(at)) => JobOutcome::Defer { at_ms: at.max(now) },
            Err(JobError::Permanent(error)) => JobOutcome::Dead { error },
            Err(JobError::Retry { message, .. }) if job.attempts >= self.cfg.max_attempts => {
                JobOutcome::Dead { error: format!("{message} (gave up after {} attempts)", job.attempts) }
            }
            Err(JobError::Retry { message, after }) => {
                let wait = self.backoff(job.attempts, after);
                JobOutcome::Retry { at_ms: now + wait.as_millis() as i64, error: message }
            }
        };
        let name = match &outcome {
            JobOutcome::Done => "done",
            JobOutcome::Defer { .. } => "deferred",
            JobOutcome::Retry { .. } => "retried",
            JobOutcome::Dead { .. } => "dead",
        };
        counter!("ufse_cold_path_jobs_total", "kind" => kind, "outcome" => name).increment(1);
        match &outcome {
            JobOutcome::Retry { error, at_ms } => {
                tracing::warn!(job = job.id, kind = %job.kind, key = %job.key, attempt = job.attempts, retry_in_ms = at_ms - now, %error, "job failed; retrying")
            }
            JobOutcome::Dead { error } => {
                tracing::error!(job = job.id, kind = %job.kind, key = %job.key, %error, "job failed for good: see `ufse jobs list --state dead`")
            }
            _ => {
                tracing::debug!(job = job.id, kind = %job.kind, key = %job.key, outcome = name, "job finished")
            }
        }
        match self.store.finish_job(job.id, &self.worker, &outcome, now).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job = job.id, "the job's lease was lost; another worker has it"),
            // The lease runs out and the job is claimed again: every job is safe to run twice.
            Err(e) => tracing::error!(job = job.id, error = %e, "finishing a job failed"),
        }
    }

    /// How long to wait before attempt `attempts + 1`: the tracker's hint
    /// when it gave one, else a random time up to `base * 2^(attempts-1)`,
    /// capped (exponential backoff with full jitter).
    pub(crate) fn backoff(&self, attempts: u32, after: Option<Duration>) -> Duration {
        let cap = Duration::from_millis(self.cfg.backoff_max_ms.max(1));
        if let Some(after) = after {
            return after.min(cap * 4);
        }
        let exp = self.cfg.backoff_base_ms.saturating_mul(1u64 << attempts.saturating_sub(1).min(32));
        let ceiling = exp.min(cap.as_millis() as u64).max(1);
        Duration::from_millis(fastrand::u64(0..=ceiling))
    }
}

/// The policy `[cold_path] policy_file` names, or the built-in one.
fn load_policy(cold: &ColdPathConfig) -> Result<Policy, ColdPathError> {
    match &cold.policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ColdPathError::Config(format!("cannot read policy file {}: {e}", path.display()))
            })?;
            Policy::from_toml(&text).map_err(|e| ColdPathError::Config(format!("{}: {e}", path.display())))
        }
        None => Ok(Policy::default()),
    }
}

/// The trackers whose keys are set, by name.
pub fn providers(linear: &LinearConfig, jira: &JiraConfig) -> Vec<&'static str> {
    let mut out = Vec::new();
    if linear.enabled() {
        out.push("linear");
    }
    if jira.enabled() {
        out.push("jira");
    }
    out
}

/// What the hot path queues for the cold path these sections configure
/// (for the roles that store incidents without running workers).
///
/// # Errors
///
/// When the policy file cannot be read or is invalid.
pub fn triggers(
    cold: &ColdPathConfig,
    linear: &LinearConfig,
    jira: &JiraConfig,
    ai: &AiConfig,
) -> Result<Triggers, ColdPathError> {
    let active = !providers(linear, jira).is_empty() || ai.provider != crate::config::AiProvider::Offline;
    Ok(load_policy(cold)?.triggers(cold.enabled, active, cold.comment_interval_ms as i64))
}

/// The jobs that file ticket `round` of `fingerprint` with each of `providers`.
pub fn file_jobs(fingerprint: &str, round: u32, providers: &[&str], now_ms: i64) -> Vec<NewJob> {
    providers
        .iter()
        .map(|p| NewJob {
            kind: JOB_FILE.into(),
            key: format!("{fingerprint}/{round}/{p}"),
            payload: serde_json::json!({"fingerprint": fingerprint, "round": round, "provider": p})
                .to_string(),
            run_after: now_ms,
        })
        .collect()
}

/// The kind as a metric label: the known kinds, or `other`.
fn job_kind(kind: &str) -> &'static str {
    use ufse_incident_store::{JOB_COMMENT, JOB_TRIAGE};
    [JOB_TRIAGE, JOB_COMMENT, JOB_FILE, JOB_REOPEN, JOB_PULL]
        .into_iter()
        .find(|k| *k == kind)
        .unwrap_or("other")
}
