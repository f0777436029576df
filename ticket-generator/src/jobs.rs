//! What each job does.
//!
//! - `triage` (an issue): for an untracked issue the policy says deserves a
//!   ticket, explain it (with AI when configured: the explanation is
//!   stored), draft its ticket, hold it if not ready, wait for a person if the approval
//!   gate is on, else approve it within the automation rate limit, which
//!   queues one `file` job per tracker; for a regressed issue with tickets,
//!   reopen them (`reopen` jobs) or draft a follow-up, as the policy says.
//! - `file`: create the approved ticket in one tracker (idempotently), record it.
//! - `reopen`: move a regressed issue's ticket back to a not-started state, say why.
//! - `comment`: post the new counts on a ticketed issue's tickets, at most once per interval.
//! - `pull`: read back what changed in one tracker since the last pull, queue the next.

use std::sync::Arc;

use serde::Deserialize;
use ufse_incident_store::{
    Actor, Approval, ColdPathStore, IssueDetail, IssueStatus, Job, NewJob, RateLimit, RemoteState,
    RequestState, StoreError, Ticket, TicketRequest, JOB_COMMENT, JOB_TRIAGE,
};

use crate::config::OnRegression;
use crate::ticket::{regression_comment, update_comment};
use crate::tracker::Comment;
use crate::worker::{JobError, Step, JOB_FILE, JOB_PULL, JOB_REOPEN};
use crate::{readiness, system_ms, ColdPath, Draft, Evidence, Tracker};

/// Incidents read per issue: the latest as samples, and as many pages.
const SAMPLES: u32 = 5;
/// How far back a pull reaches before the last one's start: clocks differ.
const PULL_OVERLAP_MS: i64 = 60_000;

#[derive(Deserialize)]
struct FilePayload {
    fingerprint: String,
    round: u32,
    provider: String,
}

#[derive(Deserialize)]
struct PullPayload {
    since: i64,
}

fn payload<'a, T: Deserialize<'a>>(job: &'a Job) -> Result<T, JobError> {
    serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("job {} has an invalid payload: {e}", job.id)))
}

impl<S: ColdPathStore + Clone> ColdPath<S> {
    /// Runs one job.
    pub(crate) async fn handle(&self, job: &Job) -> Result<Step, JobError> {
        let now = system_ms();
        match job.kind.as_str() {
            JOB_TRIAGE => self.triage(&job.key, job.run_after, now).await,
            JOB_FILE => {
                let p: FilePayload = payload(job)?;
                self.file(&p.fingerprint, p.round, &p.provider, now).await
            }
            JOB_REOPEN => {
                let (fp, provider) = job.key.split_once('/').ok_or_else(|| {
                    JobError::Permanent(format!(
                        "job {}: key `{}` is not fingerprint/provider",
                        job.id, job.key
                    ))
                })?;
                self.reopen(fp, provider, now).await
            }
            JOB_COMMENT => self.comment(&job.key, now).await,
            JOB_PULL => {
                let p: PullPayload = payload(job)?;
                self.pull(&job.key, p.since, now).await
            }
            other => Err(JobError::Permanent(format!("no worker knows jobs of kind `{other}`"))),
        }
    }

    fn tracker(&self, name: &str) -> Result<&Arc<dyn Tracker>, JobError> {
        self.trackers.iter().find(|t| t.name() == name).ok_or_else(|| {
            JobError::Permanent(format!("{name} is not configured here (set its key, or drop the job)"))
        })
    }

    /// The events of `d`'s first incident's session, when they can be read.
    async fn timeline(&self, d: &IssueDetail) -> Option<Vec<ufse_schema::Event>> {
        match self.timelines.events(&d.issue.project, &d.first.sid).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(issue = %d.issue.fingerprint, sid = %d.first.sid, error = %e, "cannot read the session's events");
                None
            }
        }
    }

    /// Whether the policy says `d`'s issue deserves a ticket.
    async fn qualifies(&self, d: &IssueDetail, now: i64) -> Result<bool, StoreError> {
        for rule in self.policy.candidates(&d.issue) {
            let sessions = match rule.window_ms {
                Some(w) => self.store.sessions_since(&d.issue.fingerprint, now - w as i64).await?,
                None => d.issue.sessions,
            };
            if sessions >= rule.min_sessions {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `due` is when the triage was due: the jobs it queues are due then
    /// too, so a backlog moves issue by issue rather than stage by stage.
    async fn triage(&self, fp: &str, due: i64, now: i64) -> Result<Step, JobError> {
        let Some(d) = self.store.issue_detail(fp, SAMPLES).await? else { return Ok(Step::Done) };
        let status = IssueStatus::parse(&d.issue.status)
            .ok_or_else(|| JobError::Permanent(format!("issue {fp} has status `{}`", d.issue.status)))?;
        if matches!(status, IssueStatus::Resolved | IssueStatus::Ignored | IssueStatus::Ticketed) {
            return Ok(Step::Done);
        }
        let latest = d.tickets.iter().map(|t| t.round).max();
        let regressed_ticket = latest.filter(|_| status == IssueStatus::Regressed);
        if let (Some(r), OnRegression::Reopen) = (regressed_ticket, self.cfg.on_regression) {
            for provider in d.tickets.iter().filter(|t| t.round == r).map(|t| t.provider.as_str()) {
                let job = NewJob {
                    kind: JOB_REOPEN.into(),
                    key: format!("{fp}/{provider}"),
                    payload: "{}".into(),
                    run_after: due,
                };
                self.store.enqueue_job(&job, now).await?;
            }
            return Ok(Step::Done);
        }
        // An issue that deserves no ticket gets no stored explanation either (`ufse issues show`
        // explains it offline on the spot); a regression of a ticketed one needs no second qualification.
        let qualifies = self.qualifies(&d, now).await?;
        if !qualifies && regressed_ticket.is_none() {
            return Ok(Step::Done);
        }
        let timeline = self.timeline(&d).await;
        let evidence = Evidence::build(&d, timeline.as_deref());
        let explanation = self.explainer.explain(&self.store, &evidence, d.explanation.as_ref(), now).await?;
        let changed = d.explanation.as_ref().is_none_or(|old| {
            (&old.result, &old.evidence_hash, &old.interpreter, &old.fallback)
                != (
                    &explanation.result,
                    &explanation.evidence_hash,
                    &explanation.interpreter,
                    &explanation.fallback,
                )
        });
        if changed {
            self.store.save_explanation(&explanation).await?;
        }
        if self.trackers.is_empty() {
            return Ok(Step::Done);
        }
        let (round, previous) = match regressed_ticket {
            // A follow-up, naming the tickets it follows.
            Some(r) => (
                r + 1,
                d.tickets.iter().filter(|t| t.round == r).map(|t| format!("{} {}", t.key, t.url)).collect(),
            ),
            None => (latest.map_or(0, |r| r + 1), Vec::new()),
        };
        let draft = Draft::new(&evidence, &explanation, round, previous).map_err(JobError::Permanent)?;
        let reasons = readiness(&draft);
        let request = TicketRequest {
            fingerprint: fp.to_owned(),
            round,
            project: d.issue.project.clone(),
            state: if reasons.is_empty() { RequestState::Pending } else { RequestState::Held },
            reasons: reasons.clone(),
            draft: serde_json::to_string(&draft).expect("drafts serialize"),
            created_ms: now,
            updated_ms: now,
            decided_ms: None,
            decided_by: None,
        };
        if !reasons.is_empty() || self.cfg.approval {
            if !self.store.put_request(&request).await? {
                return Ok(Step::Done); // decided already: approved (filing), rejected or filed
            }
            if reasons.is_empty() {
                tracing::info!(issue = fp, "ticket awaits approval: ufse tickets approve");
            } else {
                tracing::info!(issue = fp, ?reasons, "ticket held: not ready");
            }
            return Ok(Step::Done);
        }
        let limit = RateLimit { max: self.cfg.tickets_per_hour, window_ms: 3_600_000 };
        let jobs = self.file_jobs(fp, round, due.min(now));
        match self.store.submit(&request, &limit, &jobs, now).await? {
            Approval::Approved | Approval::NotPending => Ok(Step::Done),
            Approval::Limited { retry_at } => {
                metrics::counter!("ufse_tickets_rate_limited_total").increment(1);
                Ok(Step::Defer(retry_at))
            }
        }
    }

    async fn file(&self, fp: &str, round: u32, provider: &str, now: i64) -> Result<Step, JobError> {
        let Some(d) = self.store.issue_tickets(fp).await? else { return Ok(Step::Done) };
        if d.tickets.iter().any(|t| t.provider == provider && t.round == round) {
            return Ok(Step::Done);
        }
        let Some(request) = d.requests.iter().find(|r| r.round == round && r.state == RequestState::Approved)
        else {
            return Ok(Step::Done); // rejected meanwhile, or filed
        };
        let draft: Draft = serde_json::from_str(&request.draft)
            .map_err(|e| JobError::Permanent(format!("ticket request of {fp}: {e}")))?;
        let tracker = self.tracker(provider)?;
        let started = std::time::Instant::now();
        let created = tracker.create(&draft).await;
        metrics::histogram!("ufse_tracker_request_seconds", "provider" => tracker.name())
            .record(started.elapsed().as_secs_f64());
        let c = created.inspect_err(|e| {
            metrics::counter!("ufse_tracker_errors_total", "provider" => tracker.name()).increment(1);
            tracing::warn!(issue = fp, tracker = provider, error = %e, "filing failed");
        })?;
        let ticket = Ticket {
            fingerprint: fp.to_owned(),
            provider: provider.to_owned(),
            round,
            project: d.issue.project.clone(),
            remote_id: c.remote_id,
            key: c.key,
            url: c.url,
            remote_state: c.state,
            created_ms: now,
            synced_ms: now,
            commented_ms: None,
            commented_incidents: d.issue.incidents,
        };
        let providers = self.providers();
        if self.store.record_ticket(&ticket, &providers).await? {
            metrics::counter!("ufse_tickets_filed_total", "provider" => tracker.name()).increment(1);
            tracing::info!(issue = fp, tracker = provider, key = %ticket.key, url = %ticket.url, "ticket filed");
        }
        Ok(Step::Done)
    }

    async fn reopen(&self, fp: &str, provider: &str, now: i64) -> Result<Step, JobError> {
        let Some(d) = self.store.issue_tickets(fp).await? else { return Ok(Step::Done) };
        if d.issue.status != IssueStatus::Regressed.as_str() {
            return Ok(Step::Done); // reopened, resolved or ignored meanwhile
        }
        let Some(t) = d.tickets.iter().filter(|t| t.provider == provider).max_by_key(|t| t.round) else {
            return Ok(Step::Done);
        };
        let tracker = self.tracker(provider)?;
        let state = tracker.reopen(t).await?;
        let comment = Comment(regression_comment(d.issue.incidents, d.issue.last_seen, d.status_ms));
        tracker.comment(t, &format!("regressed-{}", d.status_ms), &comment).await?;
        self.store.update_ticket(&Ticket { remote_state: state, synced_ms: now, ..t.clone() }).await?;
        let why = format!("reopened {} in {provider} after a regression", t.key);
        match self.store.transition(fp, IssueStatus::Ticketed, Actor::Worker, &why, now).await {
            Ok(_) | Err(StoreError::InvalidTransition { .. }) => Ok(Step::Done),
            Err(e) => Err(e.into()),
        }
    }

    async fn comment(&self, fp: &str, now: i64) -> Result<Step, JobError> {
        let Some(d) = self.store.issue_tickets(fp).await? else { return Ok(Step::Done) };
        if d.issue.status != IssueStatus::Ticketed.as_str() {
            return Ok(Step::Done);
        }
        let Some(round) = d.tickets.iter().map(|t| t.round).max() else { return Ok(Step::Done) };
        let interval = self.cfg.comment_interval_ms as i64;
        let mut later: Option<i64> = None;
        for t in d.tickets.iter().filter(|t| t.round == round) {
            if d.issue.incidents <= t.commented_incidents {
                continue;
            }
            let due = t.commented_ms.unwrap_or(t.created_ms) + interval;
            if now < due {
                later = Some(later.map_or(due, |l| l.min(due)));
                continue;
            }
            let Ok(tracker) = self.tracker(&t.provider) else { continue };
            let i = &d.issue;
            let body = Comment(update_comment(
                i.incidents,
                i.sessions,
                i.users,
                i.incidents - t.commented_incidents,
                i.last_seen,
            ));
            tracker.comment(t, &format!("update-{}", i.incidents), &body).await?;
            let done = Ticket { commented_ms: Some(now), commented_incidents: i.incidents, ..t.clone() };
            self.store.update_ticket(&done).await?;
        }
        Ok(later.map_or(Step::Done, Step::Defer))
    }

    async fn pull(&self, provider: &str, since: i64, now: i64) -> Result<Step, JobError> {
        let tracker = self.tracker(provider)?;
        let changed = tracker.changed_since(since - PULL_OVERLAP_MS).await?;
        let mut moved = 0;
        for c in &changed {
            if let Some(t) = self.store.ticket_by_remote(provider, &c.remote_id).await? {
                let why = format!("{} is {} in {provider} (pulled)", c.key, c.state.as_str());
                moved +=
                    u32::from(apply_remote_state(&self.store, &t, c.state, Actor::Worker, &why, now).await?);
            }
        }
        tracing::debug!(tracker = provider, changed = changed.len(), moved, "pulled");
        if self.cfg.pull_interval_ms > 0 {
            let next = NewJob {
                kind: JOB_PULL.into(),
                key: provider.into(),
                payload: serde_json::json!({"since": now}).to_string(),
                run_after: now + self.cfg.pull_interval_ms as i64,
            };
            self.store.enqueue_job(&next, now).await?;
        }
        Ok(Step::Done)
    }
}

/// What a tracker says of ticket `t` (by webhook or pull), applied to its
/// issue when it changed: done resolves it, canceled ignores it, open again
/// (after done or canceled) makes it ticketed. Only an issue's latest
/// ticket in a tracker speaks for it. Returns whether the issue moved.
pub(crate) async fn apply_remote_state<S: ColdPathStore>(
    store: &S,
    t: &Ticket,
    state: RemoteState,
    actor: Actor,
    why: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if t.remote_state == state {
        return Ok(false);
    }
    let Some(d) = store.issue_tickets(&t.fingerprint).await? else { return Ok(false) };
    store.update_ticket(&Ticket { remote_state: state, synced_ms: now, ..t.clone() }).await?;
    let latest = d.tickets.iter().filter(|x| x.provider == t.provider).map(|x| x.round).max();
    if latest != Some(t.round) {
        return Ok(false);
    }
    let to = match state {
        RemoteState::Done => IssueStatus::Resolved,
        RemoteState::Canceled => IssueStatus::Ignored,
        RemoteState::Open => IssueStatus::Ticketed,
    };
    match store.transition(&t.fingerprint, to, actor, why, now).await {
        Ok(moved) => Ok(moved.is_some()),
        Err(StoreError::InvalidTransition { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
