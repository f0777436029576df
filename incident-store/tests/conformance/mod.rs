//! One suite every store backend passes: the embedded SQLite store
//! always, PostgreSQL when `UFSE_TEST_POSTGRES_URL` names a server (as
//! `scripts/test.sh` does). Each check takes a fresh, empty store;
//! `conformance_tests!` turns them into tests for one backend.

use std::collections::BTreeMap;

use ufse_engine::{Signal, SignalKind};
use ufse_incident_store::*;
use ufse_sessionizer::{SessionSignal, SessionSummary, StoredEvents};

/// A fresh, empty store for one test, cleaned up by `done`.
pub trait Fixture: Sized {
    /// The store under test.
    type Store;
    /// The store.
    fn store(&self) -> &Self::Store;
    /// Removes what the test left (a PostgreSQL schema, a directory).
    async fn done(self);
}

/// Tests for one backend:
/// `conformance_tests!(meta_fixture().await, events_fixture().await, triggered_fixture().await)`,
/// each expression an `Option<impl Fixture>` (`None` skips, having said why); the last is a
/// store whose writes queue cold-path work as [`triggers`] say.
macro_rules! conformance_tests {
    ($meta:expr, $events:expr, $triggered:expr) => {
        conformance_tests!(@meta $meta;
            keys_are_stored_as_digests_and_can_be_revoked,
            rotating_a_key_revokes_every_other_key_of_the_project,
            incidents_are_idempotent_and_issue_counts_exact,
            project_sessions_are_counted_once_and_widen_severity,
            sessions_upsert_by_part,
            partition_snapshots_only_move_forward,
            jobs_are_claimed_once_leased_retried_and_finished,
            retried_jobs_merge_into_a_twin_queued_meanwhile,
            dead_jobs_can_be_retried_or_dropped,
            the_lifecycle_moves_only_as_allowed_and_audits_every_move,
            incidents_after_a_resolution_regress_and_the_hot_path_queues_triage,
            tickets_move_their_issue_once_and_the_request_once_all_are_filed,
            approvals_respect_the_automation_rate_limit,
            issue_details_gather_samples_pages_and_prefixes,
            explanations_replace_and_the_ai_budget_runs_out);
        #[tokio::test]
        async fn the_hot_path_queues_triage_on_open_and_threshold_and_comments_when_ticketed() {
            if let Some(f) = $triggered {
                conformance::hot_path_triggers(f.store()).await;
                f.done().await;
            }
        }
        #[tokio::test]
        async fn event_references_are_idempotent_ordered_and_pruned_with_the_log() {
            if let Some(f) = $events {
                conformance::event_references_are_idempotent_ordered_and_pruned_with_the_log(f.store()).await;
                f.done().await;
            }
        }
    };
    (@meta $meta:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                if let Some(f) = $meta {
                    conformance::$name(f.store()).await;
                    f.done().await;
                }
            }
        )*
    };
}
pub(crate) use conformance_tests;

pub fn signal(sid: &str, uid: Option<&str>, kind: SignalKind, ts: i64, url: &str) -> SessionSignal {
    SessionSignal {
        project: "default".into(),
        uid: uid.map(Into::into),
        seen_ms: ts,
        signal: Signal {
            kind,
            sid: sid.into(),
            ts,
            end_ts: ts + 10,
            count: 1,
            evidence: vec![1, 2],
            sel: Some("button#go".into()),
            url: Some(url.into()),
        },
    }
}

/// What the triggered fixture's store queues: triage of dead clicks from 3 sessions, comments a minute on.
pub fn triggers() -> Triggers {
    Triggers {
        enabled: true,
        rules: vec![TriggerRule {
            kinds: vec!["dead_click".into()],
            min_severity: Severity::Low,
            min_sessions: 3,
        }],
        comment_delay_ms: 60_000,
    }
}

pub fn filter() -> ListFilter {
    ListFilter { project: "default".into(), kind: None, since_ms: None, limit: 100 }
}

pub async fn keys_are_stored_as_digests_and_can_be_revoked(store: &impl IncidentStore) -> String {
    let key = store.ensure_default_project(1).await.unwrap().expect("first start creates default");
    assert!(store.ensure_default_project(2).await.unwrap().is_none(), "only once");
    assert!(
        matches!(store.lookup_key(&key_digest(&key)).await.unwrap(), KeyStatus::Active { project, .. } if project == "default")
    );
    assert_eq!(store.lookup_key(&key_digest("uk_nope")).await.unwrap(), KeyStatus::Unknown);
    store.revoke_key(&key, 3).await.unwrap();
    assert_eq!(store.lookup_key(&key_digest(&key)).await.unwrap(), KeyStatus::Revoked);
    assert!(matches!(store.revoke_key("uk_nope", 4).await, Err(StoreError::NoSuchKey(_))));
    assert!(matches!(store.create_project("default", 5).await, Err(StoreError::ProjectExists(_))));
    assert!(matches!(store.create_project("a:b", 5).await, Err(StoreError::InvalidProjectName(_))));
    let second = store.create_project("shop", 6).await.unwrap();
    assert_ne!(second, key);
    let projects = store.list_projects().await.unwrap();
    assert_eq!(projects.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["default", "shop"]);
    assert_eq!(projects[0].keys[0].revoked_ms, Some(3));
    key
}

pub async fn rotating_a_key_revokes_every_other_key_of_the_project(store: &impl IncidentStore) {
    let first = store.create_project("demo", 1).await.unwrap();
    let other = store.create_project("shop", 1).await.unwrap();
    let second = store.rotate_key("demo", 2).await.unwrap();
    let third = store.rotate_key("demo", 3).await.unwrap();
    let status = |k: &str| {
        let store = &store;
        let d = key_digest(k);
        async move { store.lookup_key(&d).await.unwrap() }
    };
    assert_eq!(status(&first).await, KeyStatus::Revoked);
    assert_eq!(status(&second).await, KeyStatus::Revoked);
    assert!(matches!(status(&third).await, KeyStatus::Active { project, .. } if project == "demo"));
    assert!(matches!(status(&other).await, KeyStatus::Active { .. }), "other projects keep their keys");
    assert!(matches!(store.rotate_key("nope", 4).await, Err(StoreError::NoSuchProject(_))));
}

pub async fn incidents_are_idempotent_and_issue_counts_exact(store: &impl IncidentStore) {
    let batch = WriteBatch {
        signals: vec![
            signal("s1", Some("u1"), SignalKind::DeadClick, 100, "https://a.io/o/1"),
            signal("s2", Some("u1"), SignalKind::DeadClick, 200, "https://a.io/o/2?x"),
            signal("s3", None, SignalKind::DeadClick, 300, "https://a.io/o/3"),
            signal("s3", None, SignalKind::RageClick, 300, "https://a.io/o/3"),
        ],
        summaries: vec![],
    };
    let first = store.write("ufse", &batch).await.unwrap();
    assert_eq!(
        first,
        WriteStats { new_incidents: 4, known_incidents: 0, new_issues: 2, ..WriteStats::default() }
    );
    // A replay of the same results changes nothing.
    let again = store.write("ufse", &batch).await.unwrap();
    assert_eq!(again, WriteStats { new_incidents: 0, known_incidents: 4, ..WriteStats::default() });
    assert_eq!(store.incidents(&filter()).await.unwrap().len(), 4);
    let issues = store.issues(&ListFilter { kind: Some("dead_click".into()), ..filter() }).await.unwrap();
    assert_eq!(issues.len(), 1);
    let i = &issues[0];
    assert_eq!((i.incidents, i.sessions, i.users), (3, 3, 1));
    assert_eq!((i.first_seen, i.last_seen), (100, 300));
    assert_eq!(i.url_template, "a.io/o/:id");
    assert_eq!(i.status, "open");
    // A later write adds to the issue: a new session of a known user, a new user, one known incident.
    let later = WriteBatch {
        signals: vec![
            signal("s4", Some("u1"), SignalKind::DeadClick, 50, "https://a.io/o/4"),
            signal("s5", Some("u2"), SignalKind::DeadClick, 400, "https://a.io/o/5"),
            batch.signals[0].clone(),
        ],
        summaries: vec![],
    };
    let third = store.write("ufse", &later).await.unwrap();
    assert_eq!(third, WriteStats { new_incidents: 2, known_incidents: 1, ..WriteStats::default() });
    let i = &store.issues(&ListFilter { kind: Some("dead_click".into()), ..filter() }).await.unwrap()[0];
    assert_eq!((i.incidents, i.sessions, i.users), (5, 5, 2));
    assert_eq!((i.first_seen, i.last_seen), (50, 400));
    // Limit and since filters.
    let newest = store.incidents(&ListFilter { limit: 1, ..filter() }).await.unwrap();
    assert_eq!(newest[0].ts, 400);
    assert_eq!(store.incidents(&ListFilter { since_ms: Some(250), ..filter() }).await.unwrap().len(), 3);
}

pub async fn project_sessions_are_counted_once_and_widen_severity(store: &impl IncidentStore) {
    store.ensure_default_project(1).await.unwrap();
    let summary = |sid: &str, part| SessionSummary {
        project: "default".into(),
        sid: sid.into(),
        part,
        ..SessionSummary::default()
    };
    let mut summaries: Vec<SessionSummary> = (0..10).map(|i| summary(&format!("s{i}"), 0)).collect();
    summaries.push(summary("s0", 1));
    let signals = (0..10)
        .map(|i| signal(&format!("s{i}"), None, SignalKind::DeadClick, 100 + i, "https://a.io/x"))
        .collect();
    let batch = WriteBatch { signals, summaries };
    store.write("ufse", &batch).await.unwrap();
    store.write("ufse", &batch).await.unwrap();
    let projects = store.list_projects().await.unwrap();
    assert_eq!(projects[0].sessions, 10, "two parts of one sid are one session; a replay adds none");
    // Ten sessions, all of the project's: a dead click (1) reaching 10 (+1) and all of them (+1).
    let issues = store.issues(&filter()).await.unwrap();
    assert_eq!((issues[0].sessions, issues[0].severity.as_str()), (10, "medium"));
}

pub async fn sessions_upsert_by_part(store: &impl IncidentStore) {
    let mut s = SessionSummary {
        project: "default".into(),
        sid: "s1".into(),
        start_ts: 1,
        end_ts: 5,
        counts: BTreeMap::from([("click".into(), 2)]),
        ..SessionSummary::default()
    };
    store.write("ufse", &WriteBatch { signals: vec![], summaries: vec![s.clone()] }).await.unwrap();
    s.end_ts = 9;
    s.ended = true;
    store.write("ufse", &WriteBatch { signals: vec![], summaries: vec![s.clone()] }).await.unwrap();
    assert_eq!(store.session("default", "s1").await.unwrap(), vec![s]);
}

pub async fn partition_snapshots_only_move_forward(store: &impl IncidentStore) {
    let scope = "kafka/ufse-events/g";
    assert_eq!(store.load_partition_state(scope, 3).await.unwrap(), None);
    assert!(store.save_partition_state(scope, 3, 10, b"at 10").await.unwrap());
    assert!(store.save_partition_state(scope, 3, 20, b"at 20").await.unwrap());
    // A member that lost the partition writes late: the newer snapshot stays.
    assert!(!store.save_partition_state(scope, 3, 15, b"at 15").await.unwrap());
    assert_eq!(store.load_partition_state(scope, 3).await.unwrap(), Some((20, b"at 20".to_vec())));
    // The same offset again (a replay reaching the same state) is stored.
    assert!(store.save_partition_state(scope, 3, 20, b"again").await.unwrap());
    // Other partitions and other scopes (groups) are apart.
    assert_eq!(store.load_partition_state(scope, 4).await.unwrap(), None);
    assert_eq!(store.load_partition_state("kafka/ufse-events/other", 3).await.unwrap(), None);
}

pub async fn event_references_are_idempotent_ordered_and_pruned_with_the_log(store: &impl RawEventStore) {
    let refs = vec![at(1, 7, "a", 2), at(0, 9, "a", 1), at(0, 3, "a", 4), at(0, 4, "b", 1), at(2, 0, "a", 0)];
    assert_eq!(store.write_refs(&refs).await.unwrap(), 4, "a record with no new events is not indexed");
    assert_eq!(store.write_refs(&refs).await.unwrap(), 0, "replays are no-ops");
    assert_eq!(store.session_refs("default", "a").await.unwrap(), vec![(0, 3), (0, 9), (1, 7)]);
    assert_eq!(store.session_refs("default", "zz").await.unwrap(), vec![]);
    // The log now starts at offset 5 in partition 0 and 8 in partition 1.
    assert_eq!(store.prune(&[5, 8]).await.unwrap(), 3);
    assert_eq!(store.session_refs("default", "a").await.unwrap(), vec![(0, 9)]);
    assert_eq!(store.session_refs("default", "b").await.unwrap(), vec![]);
}

fn at(partition: u32, offset: u64, sid: &str, n: u32) -> EventRef {
    EventRef {
        partition,
        offset,
        events: StoredEvents {
            project: "default".into(),
            sid: sid.into(),
            positions: (0..n).collect(),
            first_ts: 1,
            max_cts: 2,
        },
    }
}

pub async fn jobs_are_claimed_once_leased_retried_and_finished(store: &impl ColdPathStore) {
    let job = |kind: &str, key: &str, payload: &str, run_after| NewJob {
        kind: kind.into(),
        key: key.into(),
        payload: payload.into(),
        run_after,
    };
    assert!(store.enqueue_job(&job("triage", "fp-a", "{\"n\":1}", 100), 1).await.unwrap());
    assert!(
        !store.enqueue_job(&job("triage", "fp-a", "{\"n\":2}", 50), 1).await.unwrap(),
        "one queued job per kind and key"
    );
    assert!(store.enqueue_job(&job("triage", "fp-b", "{}", 300), 1).await.unwrap());
    assert!(store.enqueue_job(&job("comment", "fp-a", "{}", 100), 1).await.unwrap());

    // Due ones only, oldest due first, each to one worker.
    let a = store.claim_jobs("w1", 200, 1000, 1, 5).await.unwrap().jobs;
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(
        (a.kind.as_str(), a.key.as_str(), a.payload.as_str(), a.attempts, a.state),
        ("triage", "fp-a", "{\"n\":1}", 1, JobState::Claimed)
    );
    assert_eq!((a.locked_by.as_deref(), a.locked_until), (Some("w1"), Some(1200)));
    let c = store.claim_jobs("w2", 250, 1000, 10, 5).await.unwrap().jobs;
    assert_eq!(c.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(), ["comment"], "fp-a is leased to w1");

    // A claimed job may be queued again at once (new facts after the worker read them).
    assert!(store.enqueue_job(&job("triage", "fp-a", "{\"n\":3}", 260), 260).await.unwrap());

    // A heartbeat keeps the lease; a worker that lost it learns so.
    assert_eq!(store.extend_leases(&[a.id, c[0].id], "w1", 2200).await.unwrap(), vec![a.id]);
    assert!(store.finish_job(c[0].id, "w2", &JobOutcome::Done, 260).await.unwrap());
    let others = store.claim_jobs("w3", 1300, 1000, 10, 5).await.unwrap().jobs;
    assert_eq!(
        others.iter().map(|j| j.key.as_str()).collect::<Vec<_>>(),
        ["fp-a", "fp-b"],
        "the twin, not a"
    );
    assert!(others.iter().all(|j| j.id != a.id));
    // A deferral gives its attempt back.
    for j in &others {
        assert!(store.finish_job(j.id, "w3", &JobOutcome::Defer { at_ms: 10_000 }, 1301).await.unwrap());
    }

    // w1 dies: once its lease expires the job goes to w3, and w1 can no longer finish it.
    let again = store.claim_jobs("w3", 2300, 1000, 10, 5).await.unwrap().jobs;
    assert_eq!(again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), [(a.id, 2)]);
    assert!(!store.finish_job(a.id, "w1", &JobOutcome::Done, 2301).await.unwrap());
    assert!(store.finish_job(a.id, "w3", &JobOutcome::Done, 2302).await.unwrap());
    assert!(store.jobs(None, 100).await.unwrap().iter().all(|j| j.id != a.id), "done jobs are deleted");

    // A retry spends its attempt and keeps its error.
    let b = store.claim_jobs("w3", 10_000, 1000, 10, 5).await.unwrap().jobs;
    assert_eq!(
        b.iter().map(|j| (j.key.as_str(), j.attempts)).collect::<Vec<_>>(),
        [("fp-b", 1), ("fp-a", 1)]
    );
    assert!(store.finish_job(b[0].id, "w3", &JobOutcome::Defer { at_ms: 15_000 }, 10_001).await.unwrap());
    let retry = JobOutcome::Retry { at_ms: 15_000, error: "HTTP 503".into() };
    assert!(store.finish_job(b[1].id, "w3", &retry, 10_002).await.unwrap());
    let queued = store.jobs(Some(JobState::Queued), 100).await.unwrap();
    let attempts: Vec<(&str, u32, i64)> =
        queued.iter().map(|j| (j.key.as_str(), j.attempts, j.run_after)).collect();
    assert_eq!(attempts, [("fp-b", 0, 15_000), ("fp-a", 1, 15_000)]);
    assert_eq!(queued[1].last_error.as_deref(), Some("HTTP 503"));
    assert!(store.claim_jobs("w3", 14_999, 1000, 10, 5).await.unwrap().jobs.is_empty(), "not due yet");
    assert_eq!(store.job_counts().await.unwrap(), vec![("triage".into(), JobState::Queued, 2)]);

    // A job whose worker keeps dying is buried after its last attempt.
    assert!(store.enqueue_job(&job("file", "fp-z", "{}", 0), 0).await.unwrap());
    let mut now = 20_000;
    for attempt in 1..=2 {
        let got = store.claim_jobs("w", now, 100, 10, 2).await.unwrap();
        assert!(got.jobs.iter().any(|j| j.key == "fp-z" && j.attempts == attempt));
        now += 1000;
    }
    let last = store.claim_jobs("w", now, 100, 10, 2).await.unwrap();
    assert!(last.buried >= 1 && last.jobs.iter().all(|j| j.key != "fp-z"));
    let dead = store.jobs(Some(JobState::Dead), 100).await.unwrap();
    assert!(dead
        .iter()
        .any(|j| j.key == "fp-z" && j.last_error.as_deref().is_some_and(|e| e.contains("lease"))));
}

pub async fn retried_jobs_merge_into_a_twin_queued_meanwhile(store: &impl ColdPathStore) {
    let job = NewJob { kind: "triage".into(), key: "fp".into(), payload: "{}".into(), run_after: 0 };
    store.enqueue_job(&job, 0).await.unwrap();
    let first = store.claim_jobs("w", 10, 1000, 1, 5).await.unwrap().jobs.remove(0);
    assert!(store.enqueue_job(&NewJob { run_after: 20, ..job.clone() }, 20).await.unwrap());
    let retry = JobOutcome::Retry { at_ms: 900, error: "timeout".into() };
    assert!(store.finish_job(first.id, "w", &retry, 30).await.unwrap());
    let queued = store.jobs(None, 10).await.unwrap();
    assert_eq!(queued.len(), 1, "the two became one");
    let twin = &queued[0];
    assert_ne!(twin.id, first.id);
    assert_eq!(
        (twin.state, twin.run_after, twin.attempts),
        (JobState::Queued, 900, 1),
        "backoff and attempts kept"
    );
    assert_eq!(twin.last_error.as_deref(), Some("timeout"));
}

pub async fn dead_jobs_can_be_retried_or_dropped(store: &impl ColdPathStore) {
    let job = NewJob { kind: "file".into(), key: "fp/linear".into(), payload: "{}".into(), run_after: 0 };
    store.enqueue_job(&job, 0).await.unwrap();
    let j = store.claim_jobs("w", 1, 1000, 1, 5).await.unwrap().jobs.remove(0);
    assert!(matches!(store.retry_job(j.id, 2).await, Err(StoreError::NoSuchJob(_))), "its worker holds it");
    let dead = JobOutcome::Dead { error: "HTTP 400: teamId is invalid".into() };
    assert!(store.finish_job(j.id, "w", &dead, 3).await.unwrap());
    let listed = store.jobs(Some(JobState::Dead), 10).await.unwrap();
    assert_eq!((listed.len(), listed[0].last_error.as_deref()), (1, Some("HTTP 400: teamId is invalid")));
    let back = store.retry_job(j.id, 50).await.unwrap();
    assert_eq!((back.id, back.state, back.attempts, back.run_after), (j.id, JobState::Queued, 0, 50));
    let dropped = store.drop_job(j.id).await.unwrap();
    assert_eq!(dropped.key, "fp/linear");
    assert!(matches!(store.drop_job(j.id).await, Err(StoreError::NoSuchJob(_))));
    assert!(store.jobs(None, 10).await.unwrap().is_empty());
}

/// One issue of one incident, seen at `seen`; its fingerprint.
async fn one_issue(store: &impl IncidentStore, sid: &str, seen: i64) -> String {
    let batch = WriteBatch {
        signals: vec![signal(sid, None, SignalKind::DeadClick, seen, "https://a.io/o/1")],
        summaries: vec![],
    };
    store.write("ufse", &batch).await.unwrap();
    store.issues(&filter()).await.unwrap()[0].fingerprint.clone()
}

pub async fn the_lifecycle_moves_only_as_allowed_and_audits_every_move(
    store: &(impl IncidentStore + ColdPathStore),
) {
    let fp = one_issue(store, "s1", 100).await;
    let moved =
        store.transition(&fp, IssueStatus::Resolved, Actor::User, "fixed in 1.2", 1000).await.unwrap();
    assert_eq!(moved, Some(IssueStatus::Open));
    assert_eq!(store.transition(&fp, IssueStatus::Resolved, Actor::User, "again", 1001).await.unwrap(), None);
    let bad = store.transition(&fp, IssueStatus::Open, Actor::User, "", 1002).await;
    assert!(bad.is_ok(), "reopening a resolved issue is allowed");
    let bad = store.transition(&fp, IssueStatus::Regressed, Actor::User, "", 1003).await;
    assert!(matches!(bad, Err(StoreError::InvalidTransition { from: "open", to: "regressed", .. })));
    assert!(matches!(
        store.transition("nope", IssueStatus::Ignored, Actor::User, "", 1).await,
        Err(StoreError::NoSuchIssue(_))
    ));
    store.transition(&fp, IssueStatus::Ignored, Actor::Webhook, "canceled in linear", 1004).await.unwrap();
    let d = store.issue_detail(&fp, 5).await.unwrap().unwrap();
    assert_eq!((d.issue.status.as_str(), d.status_ms), ("ignored", 1004));
    let trail: Vec<(Option<&str>, &str, &str)> =
        d.audit.iter().map(|a| (a.from.as_deref(), a.to.as_str(), a.actor.as_str())).collect();
    assert_eq!(
        trail,
        [
            (None, "open", "rule"),
            (Some("open"), "resolved", "user"),
            (Some("resolved"), "open", "user"),
            (Some("open"), "ignored", "webhook"),
        ]
    );
    assert_eq!(d.audit[1].reason.as_deref(), Some("fixed in 1.2"));
    // Reopening queued a triage.
    let queued = store.jobs(Some(JobState::Queued), 10).await.unwrap();
    assert!(queued.iter().any(|j| j.kind == JOB_TRIAGE && j.key == fp && j.payload.contains("open")));
}

pub async fn incidents_after_a_resolution_regress_and_the_hot_path_queues_triage<S>(store: &S)
where
    S: IncidentStore + ColdPathStore,
{
    let fp = one_issue(store, "s1", 100).await;
    assert!(store.jobs(None, 10).await.unwrap().is_empty(), "no triggers, nothing queued");
    store.transition(&fp, IssueStatus::Resolved, Actor::User, "fixed", 1000).await.unwrap();
    // An incident from before the fix, arriving late, does not regress it.
    let write = |sid: &str, seen| {
        let batch = WriteBatch {
            signals: vec![signal(sid, None, SignalKind::DeadClick, seen, "https://a.io/o/1")],
            summaries: vec![],
        };
        async move { store.write("ufse", &batch).await.unwrap() }
    };
    let stats = write("s2", 900).await;
    assert_eq!((stats.new_incidents, stats.regressed_issues), (1, 0));
    let stats = write("s3", 1100).await;
    assert_eq!(stats.regressed_issues, 1);
    let d = store.issue_detail(&fp, 5).await.unwrap().unwrap();
    assert_eq!((d.issue.status.as_str(), d.status_ms), ("regressed", 1100));
    let last = d.audit.last().unwrap();
    assert_eq!(
        (last.from.as_deref(), last.to.as_str(), last.actor.as_str()),
        (Some("resolved"), "regressed", "rule")
    );
}

pub async fn hot_path_triggers(store: &(impl IncidentStore + ColdPathStore)) {
    // Opened below the policy's threshold: nothing. At it: a triage, once while queued.
    let fp = one_issue(store, "s1", 100).await;
    assert!(store.jobs(None, 10).await.unwrap().is_empty(), "1 session of the 3 the rule asks");
    let batch = |sid: &str| WriteBatch {
        signals: vec![signal(sid, None, SignalKind::DeadClick, 200, "https://a.io/o/1")],
        summaries: vec![],
    };
    assert_eq!(store.write("ufse", &batch("s2")).await.unwrap().jobs_queued, 0, "2 sessions of 3");
    let third = store.write("ufse", &batch("s3")).await.unwrap();
    assert_eq!(third.jobs_queued, 1);
    let queued = store.jobs(None, 10).await.unwrap();
    assert_eq!((queued[0].kind.as_str(), queued[0].key.as_str()), (JOB_TRIAGE, fp.as_str()));
    assert_eq!(queued[0].payload, "{\"reason\":\"incidents\"}");
    assert_eq!(store.write("ufse", &batch("s4")).await.unwrap().jobs_queued, 0, "one is queued already");
    // Ticketed: each new incident makes sure an update comment is due a delay later.
    let j = store.claim_jobs("w", 20_000, 1000, 10, 5).await.unwrap().jobs.remove(0);
    store.finish_job(j.id, "w", &JobOutcome::Done, 20_001).await.unwrap();
    store.transition(&fp, IssueStatus::Ticketed, Actor::Worker, "filed", 20_002).await.unwrap();
    assert_eq!(store.write("ufse", &batch("s5")).await.unwrap().jobs_queued, 1);
    let comment = store.jobs(None, 10).await.unwrap().remove(0);
    assert_eq!((comment.kind.as_str(), comment.run_after), (JOB_COMMENT, 200 + 60_000));
}

pub async fn tickets_move_their_issue_once_and_the_request_once_all_are_filed(
    store: &(impl IncidentStore + ColdPathStore),
) {
    let fp = one_issue(store, "s1", 100).await;
    let request = TicketRequest {
        fingerprint: fp.clone(),
        round: 0,
        project: "default".into(),
        state: RequestState::Pending,
        reasons: vec![],
        draft: "{}".into(),
        created_ms: 400,
        updated_ms: 400,
        decided_ms: None,
        decided_by: None,
    };
    assert!(store.put_request(&request).await.unwrap());
    assert_eq!(store.approve(&fp, 0, Actor::Rule, None, &[], 450).await.unwrap(), Approval::Approved);
    let ticket = Ticket {
        fingerprint: fp.clone(),
        provider: "linear".into(),
        round: 0,
        project: "default".into(),
        remote_id: "8b0d1e1c-0000-4000-8000-000000000001".into(),
        key: "ENG-1".into(),
        url: "https://linear.app/t/ENG-1".into(),
        remote_state: RemoteState::Open,
        created_ms: 500,
        synced_ms: 500,
        commented_ms: None,
        commented_incidents: 1,
    };
    let both = ["linear", "jira"];
    assert!(store.record_ticket(&ticket, &both).await.unwrap());
    assert!(!store.record_ticket(&Ticket { key: "ENG-2".into(), ..ticket.clone() }, &both).await.unwrap());
    assert_eq!(store.issues(&filter()).await.unwrap()[0].status, "ticketed");
    assert_eq!(store.requests(&[RequestState::Approved]).await.unwrap().len(), 1, "jira is still to come");
    let jira =
        Ticket { provider: "jira".into(), remote_id: "10001".into(), key: "SHOP-1".into(), ..ticket.clone() };
    assert!(store.record_ticket(&jira, &both).await.unwrap());
    assert_eq!(store.requests(&[RequestState::Filed]).await.unwrap().len(), 1);
    // A decided request is not put back by a later triage.
    let held = TicketRequest { state: RequestState::Held, ..request.clone() };
    assert!(!store.put_request(&held).await.unwrap());

    let by_remote = store.ticket_by_remote("linear", &ticket.remote_id).await.unwrap().unwrap();
    assert_eq!(by_remote, ticket);
    assert_eq!(store.ticket_by_remote("linear", "ENG-1").await.unwrap().unwrap().key, "ENG-1");
    assert!(store.ticket_by_remote("jira", &ticket.remote_id).await.unwrap().is_none());
    let synced =
        Ticket { remote_state: RemoteState::Done, synced_ms: 900, commented_ms: Some(800), ..ticket.clone() };
    store.update_ticket(&synced).await.unwrap();
    let listed = store
        .tickets(&TicketFilter { provider: Some("linear".into()), ..TicketFilter::default() })
        .await
        .unwrap();
    assert_eq!(listed, vec![synced]);
    let done = TicketFilter { remote_states: vec![RemoteState::Open], ..TicketFilter::default() };
    assert_eq!(store.tickets(&done).await.unwrap().len(), 1, "only jira's is open");
    let audit = store.issue_detail(&fp, 1).await.unwrap().unwrap().audit;
    assert_eq!(audit.iter().filter(|a| a.to == "ticketed").count(), 1, "moved once");
    let missing = Ticket { fingerprint: "nope".into(), ..ticket };
    assert!(matches!(store.record_ticket(&missing, &both).await, Err(StoreError::NoSuchIssue(_))));
}

pub async fn approvals_respect_the_automation_rate_limit(store: &(impl IncidentStore + ColdPathStore)) {
    store.ensure_default_project(1).await.unwrap();
    let request = |fp: &str, state| TicketRequest {
        fingerprint: fp.into(),
        round: 0,
        project: "default".into(),
        state,
        reasons: vec![],
        draft: "{}".into(),
        created_ms: 0,
        updated_ms: 0,
        decided_ms: None,
        decided_by: None,
    };
    let limit = RateLimit { max: 2, window_ms: 3_600_000 };
    let file = |fp: &str| NewJob {
        kind: "file".into(),
        key: format!("{fp}/0/linear"),
        payload: "{}".into(),
        run_after: 0,
    };
    for (i, fp) in ["a", "b", "c"].iter().enumerate() {
        store.put_request(&request(fp, RequestState::Pending)).await.unwrap();
        let got =
            store.approve(fp, 0, Actor::Rule, Some(&limit), &[file(fp)], 1000 + i as i64).await.unwrap();
        match (i, got) {
            (0 | 1, Approval::Approved) => {}
            // Two an hour, refilled evenly: the next one half an hour on.
            (2, Approval::Limited { retry_at }) => {
                assert!((1_800_000..=1_802_000).contains(&retry_at), "{retry_at}")
            }
            (_, got) => panic!("{fp}: {got:?}"),
        }
    }
    // People are not rate limited, and do not use up the automation's slots.
    assert_eq!(
        store.approve("c", 0, Actor::User, None, &[file("c")], 2000).await.unwrap(),
        Approval::Approved
    );
    assert_eq!(store.approve("c", 0, Actor::User, None, &[], 2001).await.unwrap(), Approval::NotPending);
    store.put_request(&request("d", RequestState::Pending)).await.unwrap();
    let later = 1000 + 3_600_000 + 1;
    assert_eq!(
        store.approve("d", 0, Actor::Rule, Some(&limit), &[file("d")], later).await.unwrap(),
        Approval::Approved
    );
    let jobs: Vec<String> = store.jobs(None, 10).await.unwrap().into_iter().map(|j| j.key).collect();
    assert_eq!(jobs, ["a/0/linear", "b/0/linear", "c/0/linear", "d/0/linear"]);
    // Held requests are not approvable; rejections say why.
    store
        .put_request(&TicketRequest { reasons: vec!["no page".into()], ..request("e", RequestState::Held) })
        .await
        .unwrap();
    assert_eq!(store.approve("e", 0, Actor::User, None, &[], 3000).await.unwrap(), Approval::NotPending);
    assert!(store.reject("e", 0, "not ours", 3001).await.unwrap());
    assert!(!store.reject("e", 0, "again", 3002).await.unwrap());
    let rejected = store.requests(&[RequestState::Rejected]).await.unwrap();
    assert_eq!(
        (rejected[0].reasons.clone(), rejected[0].decided_by.as_deref()),
        (vec!["not ours".to_owned()], Some("user"))
    );
    assert_eq!(store.requests(&[]).await.unwrap().len(), 5);

    // Submitting stores and approves in one step, within the same limit.
    let tight = RateLimit { max: 2, window_ms: 3_600_000 };
    let f = request("f", RequestState::Pending);
    assert_eq!(store.submit(&f, &tight, &[file("f")], later + 1).await.unwrap(), Approval::Approved);
    assert_eq!(
        store.submit(&f, &tight, &[file("f")], later + 2).await.unwrap(),
        Approval::NotPending,
        "decided"
    );
    let g = request("g", RequestState::Pending);
    let limited = store.submit(&g, &tight, &[file("g")], later + 3).await.unwrap();
    assert!(matches!(limited, Approval::Limited { .. }), "{limited:?}");
    let waiting = store.requests(&[RequestState::Pending]).await.unwrap();
    assert_eq!(waiting.iter().map(|r| r.fingerprint.as_str()).collect::<Vec<_>>(), ["g"], "stored, pending");
    assert!(store.jobs(None, 20).await.unwrap().iter().all(|j| j.key != "g/0/linear"));
}

pub async fn issue_details_gather_samples_pages_and_prefixes(store: &(impl IncidentStore + ColdPathStore)) {
    let batch = WriteBatch {
        signals: vec![
            signal("s1", Some("u1"), SignalKind::DeadClick, 300, "https://a.io/o/1?token=x"),
            signal("s2", Some("u2"), SignalKind::DeadClick, 100, "https://a.io/o/1#top"),
            signal("s3", None, SignalKind::DeadClick, 200, "https://a.io/o/2"),
        ],
        summaries: vec![],
    };
    store.write("ufse", &batch).await.unwrap();
    let fp = store.issues(&filter()).await.unwrap()[0].fingerprint.clone();
    let d = store.issue_detail(&fp, 2).await.unwrap().unwrap();
    assert_eq!(d.first.sid, "s2", "the first by time seen");
    assert_eq!(d.first.seen_ms, Some(100));
    assert_eq!(d.latest.iter().map(|i| i.sid.as_str()).collect::<Vec<_>>(), ["s1", "s3"]);
    assert_eq!(d.pages, vec![("https://a.io/o/1".to_owned(), 2), ("https://a.io/o/2".to_owned(), 1)]);
    assert!(d.tickets.is_empty() && d.explanation.is_none() && d.requests.is_empty());
    assert_eq!(store.sessions_since(&fp, 150).await.unwrap(), 2);
    assert_eq!(store.resolve_fingerprint(&fp[..8]).await.unwrap(), fp);
    assert_eq!(store.resolve_fingerprint(&fp.to_ascii_uppercase()[..10]).await.unwrap(), fp);
    assert!(matches!(store.resolve_fingerprint("zz").await, Err(StoreError::NoSuchIssue(_))));
    assert!(matches!(store.resolve_fingerprint("%").await, Err(StoreError::NoSuchIssue(_))));
    // Two issues share any one-digit prefix with probability 1/16; sixteen-odd issues always do.
    let many = WriteBatch {
        signals: (0..40)
            .map(|i| signal("s", None, SignalKind::DeadClick, i, &format!("https://a.io/p{i}")))
            .collect(),
        summaries: vec![],
    };
    store.write("ufse", &many).await.unwrap();
    let ambiguous = (0..16u8).map(|d| format!("{d:x}"));
    let mut saw = false;
    for p in ambiguous {
        saw |= matches!(store.resolve_fingerprint(&p).await, Err(StoreError::AmbiguousIssue { .. }));
    }
    assert!(saw);
    assert!(store.issue_detail("nope", 2).await.unwrap().is_none());
}

pub async fn explanations_replace_and_the_ai_budget_runs_out(store: &(impl IncidentStore + ColdPathStore)) {
    let fp = one_issue(store, "s1", 100).await;
    let e = Explanation {
        fingerprint: fp.clone(),
        interpreter: "offline".into(),
        model: "offline-1".into(),
        prompt: "interpret-v1".into(),
        evidence_hash: "h1".into(),
        result: "{\"title\":\"a\"}".into(),
        fallback: Some("no AI provider".into()),
        input_tokens: 0,
        output_tokens: 0,
        created_ms: 1,
    };
    store.save_explanation(&e).await.unwrap();
    let ai = Explanation { interpreter: "openai".into(), fallback: None, input_tokens: 30, ..e.clone() };
    store.save_explanation(&ai).await.unwrap();
    assert_eq!(store.issue_detail(&fp, 1).await.unwrap().unwrap().explanation, Some(ai));

    let budget = AiBudget { max_calls: 2, max_tokens: 1000 };
    assert!(store.take_ai_call("default", 20_000, budget).await.unwrap());
    store.add_ai_tokens("default", 20_000, 400).await.unwrap();
    assert!(store.take_ai_call("default", 20_000, budget).await.unwrap());
    assert!(!store.take_ai_call("default", 20_000, budget).await.unwrap(), "two calls a day");
    assert!(store.take_ai_call("default", 20_001, budget).await.unwrap(), "a new day");
    store.add_ai_tokens("default", 20_001, 1000).await.unwrap();
    let big = AiBudget { max_calls: 100, max_tokens: 1000 };
    assert!(!store.take_ai_call("default", 20_001, big).await.unwrap(), "the tokens are spent");
    assert!(store.take_ai_call("shop", 20_001, big).await.unwrap(), "another project's budget");
    assert!(!store.take_ai_call("shop", 20_001, AiBudget { max_calls: 0, max_tokens: 10 }).await.unwrap());
}
