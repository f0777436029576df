//! The issue lifecycle, as one table of allowed moves, and what the hot
//! path queues for the cold path when a write moves an issue's counts.
//!
//! ```text
//! open ──ticket filed──▶ ticketed ──done──▶ resolved ──new incident──▶ regressed ──ticket reopened──▶ ticketed
//!   └──────────────┴── ignore / resolve ──┘      └── reopen (no ticket) ──▶ open
//! ```
//!
//! Both backends apply [`allowed`] in their transition, and [`after_write`]
//! in their write, so they cannot disagree.

use crate::{IssueStatus, NewJob, Severity, Triggers};

/// Job kind: decide what an issue needs (an explanation, a ticket, a
/// reopened ticket); queued by the hot path when an issue is opened,
/// regresses or crosses its policy's threshold, and by a person reopening it.
pub const JOB_TRIAGE: &str = "triage";
/// Job kind: post the new counts on a ticketed issue's tickets (at most one
/// comment per interval).
pub const JOB_COMMENT: &str = "comment";

/// Whether an issue may move from `from` to `to`.
pub fn allowed(from: IssueStatus, to: IssueStatus) -> bool {
    use IssueStatus::*;
    match to {
        // A ticket was filed, or the tracker says its ticket is open again.
        Ticketed => matches!(from, Open | Regressed | Resolved | Ignored),
        // By a person, or the tracker's done state.
        Resolved => matches!(from, Open | Ticketed | Regressed | Ignored),
        Ignored => matches!(from, Open | Ticketed | Resolved | Regressed),
        // Reopened by a person, with no ticket to reopen.
        Open => matches!(from, Resolved | Ignored),
        // A new incident after the resolution, or reopened by a person with a ticket to reopen.
        Regressed => matches!(from, Resolved | Ignored),
    }
}

/// An issue whose counts one write moved, as the hot path sees it after
/// counting the write's new incidents into it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Touched<'a> {
    /// Its fingerprint.
    pub fingerprint: &'a str,
    /// Its signal kind.
    pub kind: &'a str,
    /// Its status before the write (an issue the write opened is `Open`).
    pub status: IssueStatus,
    /// When that status was set, ms.
    pub status_ms: i64,
    /// Whether the write opened it.
    pub opened: bool,
    /// The latest skew-corrected time among the write's new incidents of it.
    pub seen_ms: i64,
    /// Its affected sessions after the write.
    pub sessions: u64,
    /// Its severity after the write.
    pub severity: Severity,
}

/// What the hot path does about a touched issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// Move it from resolved to regressed (a new incident came after the resolution).
    pub regress: bool,
    /// Queue this for the cold path.
    pub job: Option<NewJob>,
}

/// What the hot path does about `t` under `triggers`: regress it if it was
/// resolved before its new incidents happened, and queue a triage when it
/// regressed, or when, untracked (open or regressed), its new incidents leave
/// it meeting one of the policy's rules (and so when it is opened meeting
/// one), or an update comment when a ticket tracks it.
pub(crate) fn after_write(triggers: &Triggers, t: &Touched) -> Step {
    let regress = t.status == IssueStatus::Resolved && t.seen_ms > t.status_ms;
    if !triggers.enabled {
        return Step { regress, job: None };
    }
    let triage = |reason: &str| NewJob {
        kind: JOB_TRIAGE.into(),
        key: t.fingerprint.into(),
        payload: format!("{{\"reason\":\"{reason}\"}}"),
        run_after: t.seen_ms,
    };
    let may_qualify = || {
        triggers.rules.iter().any(|r| {
            (r.kinds.is_empty() || r.kinds.iter().any(|k| k == t.kind))
                && t.severity >= r.min_severity
                && t.sessions >= r.min_sessions
        })
    };
    let job = if regress {
        Some(triage("regressed"))
    } else {
        match t.status {
            IssueStatus::Open | IssueStatus::Regressed if may_qualify() => {
                Some(triage(if t.opened { "opened" } else { "incidents" }))
            }
            IssueStatus::Ticketed => Some(NewJob {
                kind: JOB_COMMENT.into(),
                key: t.fingerprint.into(),
                payload: "{}".into(),
                run_after: t.seen_ms.saturating_add(triggers.comment_delay_ms),
            }),
            _ => None,
        }
    };
    Step { regress, job }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TriggerRule;
    use IssueStatus::*;

    fn touched(status: IssueStatus) -> Touched<'static> {
        Touched {
            fingerprint: "fp",
            kind: "dead_click",
            status,
            status_ms: 1_000,
            opened: false,
            seen_ms: 2_000,
            sessions: 5,
            severity: Severity::High,
        }
    }

    fn triggers() -> Triggers {
        let rule = |kinds: &[&str], min_severity, min_sessions| TriggerRule {
            kinds: kinds.iter().map(|k| (*k).to_owned()).collect(),
            min_severity,
            min_sessions,
        };
        Triggers {
            enabled: true,
            rules: vec![rule(&["dead_click"], Severity::High, 5), rule(&[], Severity::Critical, 1)],
            comment_delay_ms: 60_000,
        }
    }

    #[test]
    fn every_status_can_be_left_and_reached_but_not_every_way() {
        for to in IssueStatus::ALL {
            assert!(IssueStatus::ALL.iter().any(|&from| from != to && allowed(from, to)), "{to:?} reachable");
        }
        assert!(!allowed(Open, Regressed), "only a resolved issue regresses");
        assert!(!allowed(Ticketed, Open), "a tracked issue is not reopened without its ticket");
        assert!(allowed(Resolved, Regressed) && allowed(Regressed, Ticketed));
    }

    #[test]
    fn only_incidents_after_the_resolution_regress() {
        let t = triggers();
        let late = Touched { seen_ms: 500, ..touched(Resolved) };
        assert_eq!(after_write(&t, &late), Step { regress: false, job: None }, "it happened before the fix");
        let step = after_write(&t, &touched(Resolved));
        assert!(step.regress);
        assert_eq!(step.job.unwrap().payload, "{\"reason\":\"regressed\"}");
        // Regressions are tracked even with the cold path off.
        assert!(after_write(&Triggers::default(), &touched(Resolved)).regress);
    }

    #[test]
    fn the_hot_path_queues_only_what_may_deserve_a_ticket_and_updates() {
        let t = triggers();
        let opened = after_write(&t, &Touched { opened: true, ..touched(Open) });
        assert_eq!(opened.job.unwrap().payload, "{\"reason\":\"opened\"}");
        assert_eq!(after_write(&t, &touched(Open)).job.unwrap().payload, "{\"reason\":\"incidents\"}");
        let few = Touched { sessions: 4, ..touched(Open) };
        assert_eq!(after_write(&t, &few).job, None, "4 sessions of the 5 the rule asks");
        let mild = Touched { severity: Severity::Medium, ..touched(Open) };
        assert_eq!(after_write(&t, &mild).job, None, "not severe enough");
        let other = Touched { kind: "u_turn", ..touched(Open) };
        assert_eq!(after_write(&t, &other).job, None, "no rule covers a high u_turn");
        let critical = Touched { severity: Severity::Critical, ..other };
        assert!(after_write(&t, &critical).job.is_some(), "the critical rule covers every kind");
        let comment = after_write(&t, &touched(Ticketed)).job.unwrap();
        assert_eq!((comment.kind.as_str(), comment.run_after), (JOB_COMMENT, 62_000));
        assert_eq!(after_write(&t, &touched(Ignored)).job, None);
        assert_eq!(after_write(&Triggers::default(), &touched(Open)).job, None);
    }
}
