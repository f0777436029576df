//! The cold path's commands: an issue shown whole and moved through its
//! lifecycle by a person; tickets listed, approved and rejected; the job
//! queue listed, retried and pruned.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use ufse_incident_store::{
    Actor, Approval, ColdPathStore, IssueDetail, IssueStatus, JobState, RequestState, TicketFilter,
    TicketRequest,
};
use ufse_ticket_generator::{file_jobs, providers, Evidence, Interpretation, Offline, Timelines};

use crate::cli::{Command, IssuesCommand, JobsCommand, TicketsCommand};
use crate::commands::now_ms;
use crate::config::Config;
use crate::output::{fmt_ms, Out};

/// Runs an `issues` (but `list`), `tickets` or `jobs` command; `sessions`
/// has the events `issues show` reads its evidence from.
pub async fn run(
    cmd: Command,
    cfg: &Config,
    out: &mut Out,
    store: &impl ColdPathStore,
    sessions: &impl Timelines,
) -> Result<ExitCode> {
    match cmd {
        Command::Issues(IssuesCommand::Show { fingerprint }) => {
            let fp = store.resolve_fingerprint(&fingerprint).await?;
            let d = store.issue_detail(&fp, 10).await?.with_context(|| format!("no issue {fp}"))?;
            // The first incident's facts and the steps that led to it, as its ticket has them.
            let events = sessions.events(&d.issue.project, &d.first.sid).await.map_err(|e| anyhow!(e))?;
            let evidence = Evidence::build(&d, events.as_deref());
            // An issue that has not qualified for a ticket has none stored: explained offline now.
            let now = d.explanation.is_none().then(|| Offline.explain(&evidence));
            if out.json {
                let mut v = serde_json::to_value(&d)?;
                v["evidence"] = serde_json::to_value(&evidence)?;
                if let Some(now) = &now {
                    v["explained_now"] = serde_json::to_value(now)?;
                }
                out.json_line(&v)?;
            } else {
                show(out, &d, &evidence, now.as_ref())?;
            }
        }
        Command::Issues(IssuesCommand::Resolve(a)) => {
            let fp = store.resolve_fingerprint(&a.fingerprint).await?;
            move_issue(out, store, &fp, a.reason, IssueStatus::Resolved).await?
        }
        Command::Issues(IssuesCommand::Ignore(a)) => {
            let fp = store.resolve_fingerprint(&a.fingerprint).await?;
            move_issue(out, store, &fp, a.reason, IssueStatus::Ignored).await?
        }
        Command::Issues(IssuesCommand::Reopen(a)) => {
            let fp = store.resolve_fingerprint(&a.fingerprint).await?;
            let d = store.issue_tickets(&fp).await?.with_context(|| format!("no issue {fp}"))?;
            // With a ticket, reopening is a regression: the worker reopens the ticket or files a follow-up.
            let to = if d.tickets.is_empty() { IssueStatus::Open } else { IssueStatus::Regressed };
            move_issue(out, store, &fp, a.reason, to).await?;
        }
        Command::Tickets(TicketsCommand::List { provider, limit }) => {
            let filter = TicketFilter { provider, limit, ..TicketFilter::default() };
            for t in store.tickets(&filter).await? {
                if out.json {
                    out.json_line(&t)?;
                } else {
                    out.line(format!(
                        "{}  {:<6} {:<10} {:<8} round {}  issue {}  {}",
                        fmt_ms(t.created_ms),
                        t.provider,
                        t.key,
                        t.remote_state.as_str(),
                        t.round,
                        &t.fingerprint[..12],
                        t.url
                    ))?;
                }
            }
        }
        Command::Tickets(TicketsCommand::Pending) => {
            for r in store.requests(&[RequestState::Held, RequestState::Pending]).await? {
                if out.json {
                    out.json_line(&r)?;
                    continue;
                }
                let title = serde_json::from_str::<serde_json::Value>(&r.draft)
                    .ok()
                    .and_then(|d| d["explanation"]["title"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                out.line(format!(
                    "{}  round {}  {:<7}  {title}",
                    &r.fingerprint[..12],
                    r.round,
                    r.state.as_str()
                ))?;
                for reason in &r.reasons {
                    out.line(format!("    held: {reason}"))?;
                }
            }
        }
        Command::Tickets(TicketsCommand::Approve { fingerprint }) => {
            let fp = store.resolve_fingerprint(&fingerprint).await?;
            let requests = store.issue_tickets(&fp).await?.map(|d| d.requests).unwrap_or_default();
            let Some(r) = waiting(&requests) else {
                bail!("issue {fp} has no ticket waiting (see `ufse tickets pending`)");
            };
            if r.state == RequestState::Held {
                bail!("issue {fp}'s ticket is held, not ready to file: {}", r.reasons.join("; "));
            }
            let trackers = providers(&cfg.linear, &cfg.jira);
            if trackers.is_empty() {
                bail!("no tracker is configured: set [linear] api_key or [jira] api_token");
            }
            let now = now_ms();
            let jobs = file_jobs(&fp, r.round, &trackers, now);
            match store.approve(&fp, r.round, Actor::User, None, &jobs, now).await? {
                Approval::Approved if out.json => out.json_line(
                    &serde_json::json!({"fingerprint": fp, "round": r.round, "approved": true, "trackers": trackers}),
                )?,
                Approval::Approved => out.line(format!(
                    "approved: issue {}'s ticket goes to {} (the workers file it)",
                    &fp[..12],
                    trackers.join(" and ")
                ))?,
                _ => bail!("issue {fp}'s ticket is no longer waiting"),
            }
        }
        Command::Tickets(TicketsCommand::Reject { fingerprint, reason }) => {
            let fp = store.resolve_fingerprint(&fingerprint).await?;
            let requests = store.issue_tickets(&fp).await?.map(|d| d.requests).unwrap_or_default();
            let Some(r) = waiting(&requests) else {
                bail!("issue {fp} has no ticket waiting (see `ufse tickets pending`)")
            };
            let reason = if reason.is_empty() { "rejected" } else { reason.as_str() };
            if !store.reject(&fp, r.round, reason, now_ms()).await? {
                bail!("issue {fp}'s ticket is no longer waiting");
            }
            if out.json {
                out.json_line(&serde_json::json!({"fingerprint": fp, "round": r.round, "rejected": true}))?;
            } else {
                out.line(format!("rejected: issue {}'s ticket will not be filed", &fp[..12]))?;
            }
        }
        Command::Jobs(JobsCommand::List { state, limit }) => {
            let state = state.as_deref().map(|s| JobState::parse(s).expect("clap checked it"));
            for j in store.jobs(state, limit).await? {
                if out.json {
                    out.json_line(&j)?;
                    continue;
                }
                let at = match j.state {
                    JobState::Claimed => format!(
                        "by {} until {}",
                        j.locked_by.as_deref().unwrap_or("?"),
                        fmt_ms(j.locked_until.unwrap_or(0))
                    ),
                    _ => format!("due {}", fmt_ms(j.run_after)),
                };
                out.line(format!(
                    "{:>6}  {:<7} {:<8} attempts {}  {at}  {}{}",
                    j.id,
                    j.kind,
                    j.state.as_str(),
                    j.attempts,
                    j.key,
                    j.last_error.as_deref().map(|e| format!("  last error: {e}")).unwrap_or_default()
                ))?;
            }
        }
        Command::Jobs(JobsCommand::Retry { id }) => {
            let j = store.retry_job(id, now_ms()).await?;
            if out.json {
                out.json_line(&j)?;
            } else {
                out.line(format!("job {} ({} {}) queued, due now", j.id, j.kind, j.key))?;
            }
        }
        Command::Jobs(JobsCommand::Drop { id }) => {
            let j = store.drop_job(id).await?;
            if out.json {
                out.json_line(&j)?;
            } else {
                out.line(format!("job {id} ({} {}, {}) dropped", j.kind, j.key, j.state.as_str()))?;
            }
        }
        _ => unreachable!("dispatched here only for the cold path's commands"),
    }
    Ok(ExitCode::SUCCESS)
}

/// An issue's latest request still waiting (pending or held).
fn waiting(requests: &[TicketRequest]) -> Option<&TicketRequest> {
    requests.iter().rev().find(|r| matches!(r.state, RequestState::Pending | RequestState::Held))
}

/// Moves issue `fp` to `to` as a person, for `reason` (or one said for them).
async fn move_issue(
    out: &mut Out,
    store: &impl ColdPathStore,
    fp: &str,
    reason: String,
    to: IssueStatus,
) -> Result<()> {
    let reason = if reason.is_empty() { format!("{} by a person", to.as_str()) } else { reason };
    let from = store.transition(fp, to, Actor::User, &reason, now_ms()).await?;
    if out.json {
        out.json_line(&serde_json::json!({"fingerprint": fp, "status": to, "was": from}))?;
        return Ok(());
    }
    match from {
        Some(from) => out.line(format!("issue {} is {} (was {})", &fp[..12], to.as_str(), from.as_str()))?,
        None => out.line(format!("issue {} is {} already", &fp[..12], to.as_str()))?,
    }
    Ok(())
}

/// `issues show`, as text.
fn show(out: &mut Out, d: &IssueDetail, e: &Evidence, explained_now: Option<&Interpretation>) -> Result<()> {
    let i = &d.issue;
    out.line(format!("issue {}  {}  {}  {}", i.fingerprint, i.kind, i.severity, i.status))?;
    out.line(format!("  page       {}", i.url_template))?;
    if let Some(sel) = &i.sel {
        out.line(format!("  element    {sel}"))?;
    }
    out.line(format!(
        "  reach      {} incidents in {} sessions of {} users",
        i.incidents, i.sessions, i.users
    ))?;
    out.line(format!("  seen       {} .. {} UTC", fmt_ms(i.first_seen), fmt_ms(i.last_seen)))?;
    for (page, n) in &d.pages {
        out.line(format!("  page seen  {page} ({n})"))?;
    }
    let stored = d.explanation.as_ref().and_then(|x| serde_json::from_str::<Interpretation>(&x.result).ok());
    match &d.explanation {
        Some(x) => {
            let by = if x.interpreter == "offline" {
                "offline".into()
            } else {
                format!("{} {}", x.interpreter, x.model)
            };
            out.line(format!("explanation by {by} (prompt {}, {})", x.prompt, fmt_ms(x.created_ms)))?;
            if let Some(why) = &x.fallback {
                out.line(format!("  (the configured model did not answer: {why})"))?;
            }
        }
        None => out.line(
            "explanation by offline, made now (none is stored: the issue has not qualified for a ticket)",
        )?,
    }
    if let Some(e) = stored.as_ref().or(explained_now) {
        out.line(format!("  title           {}", e.title))?;
        out.line(format!("  summary         {}", e.summary))?;
        out.line(format!("  probable cause  {}", e.probable_cause))?;
        out.line(format!("  suggested fix   {}", e.suggested_fix))?;
        out.line(format!("  confidence {:.2}, labels {}", e.confidence, e.labels.join(", ")))?;
    }
    if !d.tickets.is_empty() {
        out.line("tickets")?;
        for t in &d.tickets {
            out.line(format!(
                "  {} {} round {}  {}  {}  (filed {})",
                t.provider,
                t.key,
                t.round,
                t.remote_state.as_str(),
                t.url,
                fmt_ms(t.created_ms)
            ))?;
        }
    }
    for r in &d.requests {
        let decided = match (&r.decided_by, r.decided_ms) {
            (Some(by), Some(at)) => format!(" by {by} at {}", fmt_ms(at)),
            _ => String::new(),
        };
        out.line(format!("ticket request round {}: {}{decided}", r.round, r.state.as_str()))?;
        for reason in &r.reasons {
            out.line(format!("  {reason}"))?;
        }
    }
    out.line(format!(
        "steps to reproduce (session {}{})",
        e.first_sid,
        if e.from_timeline { "" } else { "; its events are not kept here: from the incident alone" }
    ))?;
    for (i, step) in e.steps.iter().enumerate() {
        out.line(format!("  {}. {step}", i + 1))?;
    }
    if let Some(err) = &e.error {
        out.line(format!("  error: {}", err.message))?;
        if let Some(at) = err.top_frame.as_deref().or(err.source.as_deref()) {
            out.line(format!("    {at}"))?;
        }
    }
    if let Some(r) = &e.request {
        out.line(format!(
            "  request: {} {} answered {} after {} ms",
            r.method, r.url, r.status, r.duration_ms
        ))?;
    }
    out.line("sample incidents")?;
    for s in std::iter::once(&d.first).chain(d.latest.iter().filter(|s| s.id != d.first.id)) {
        let evidence: Vec<String> = s.evidence.iter().map(u64::to_string).collect();
        out.line(format!(
            "  {}  {}  sid={} count={} evidence={} url={}",
            fmt_ms(s.seen_ms.unwrap_or(s.ts)),
            &s.id[..12],
            s.sid,
            s.count,
            evidence.join(","),
            s.url.as_deref().unwrap_or("-")
        ))?;
    }
    out.line("audit trail")?;
    for a in &d.audit {
        out.line(format!(
            "  {}  {} -> {}  by {}  {}",
            fmt_ms(a.at_ms),
            a.from.as_deref().unwrap_or("(new)"),
            a.to,
            a.actor,
            a.reason.as_deref().unwrap_or("")
        ))?;
    }
    out.line(format!("replay: ufse replay {} --project {} --explain", d.first.sid, i.project))?;
    Ok(())
}
