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

/// Tests for one backend: `conformance_tests!(meta_fixture().await, events_fixture().await)`,
/// each expression an `Option<impl Fixture>` (`None` skips, having said why).
macro_rules! conformance_tests {
    ($meta:expr, $events:expr) => {
        conformance_tests!(@meta $meta;
            keys_are_stored_as_digests_and_can_be_revoked,
            rotating_a_key_revokes_every_other_key_of_the_project,
            incidents_are_idempotent_and_issue_counts_exact,
            project_sessions_are_counted_once_and_widen_severity,
            sessions_upsert_by_part,
            partition_snapshots_only_move_forward,
            jobs_are_claimed_once_leased_retried_and_finished,
            tickets_move_their_issue_once_and_enrichments_replace);
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
    assert_eq!(first, WriteStats { new_incidents: 4, known_incidents: 0, new_issues: 2 });
    // A replay of the same results changes nothing.
    let again = store.write("ufse", &batch).await.unwrap();
    assert_eq!(again, WriteStats { new_incidents: 0, known_incidents: 4, new_issues: 0 });
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
    assert_eq!(third, WriteStats { new_incidents: 2, known_incidents: 1, new_issues: 0 });
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
    assert!(store.enqueue_job("enrich", "fp-a", "{\"n\":1}", 100).await.unwrap());
    assert!(
        !store.enqueue_job("enrich", "fp-a", "{\"n\":2}", 100).await.unwrap(),
        "one job per kind and key"
    );
    assert!(store.enqueue_job("enrich", "fp-b", "{}", 300).await.unwrap());
    assert!(store.enqueue_job("ticket", "fp-a", "{}", 100).await.unwrap());

    // Due ones only, of the kind asked for; claimed once.
    let jobs = store.claim_jobs("enrich", "w1", 200, 1000, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let a = &jobs[0];
    assert_eq!(
        (a.kind.as_str(), a.key.as_str(), a.payload.as_str(), a.attempts),
        ("enrich", "fp-a", "{\"n\":1}", 1)
    );
    assert!(store.claim_jobs("enrich", "w2", 250, 1000, 10).await.unwrap().is_empty(), "leased to w1");

    // w1 dies; once its lease expires the job goes to w2, and w1 can no longer finish it.
    let again = store.claim_jobs("enrich", "w2", 1300, 1000, 1).await.unwrap();
    assert_eq!((again[0].id, again[0].attempts), (a.id, 2));
    assert!(!store.finish_job(a.id, "w1", &JobOutcome::Done, 1301).await.unwrap());
    let retry = JobOutcome::Retry { at_ms: 5000, error: "model timed out".into() };
    assert!(store.finish_job(a.id, "w2", &retry, 1302).await.unwrap());

    // fp-b is due now; fp-a only at 5000.
    let b = store.claim_jobs("enrich", "w2", 1400, 1000, 10).await.unwrap();
    assert_eq!(b.iter().map(|j| j.key.as_str()).collect::<Vec<_>>(), ["fp-b"]);
    assert!(store
        .finish_job(b[0].id, "w2", &JobOutcome::Failed { error: "bad input".into() }, 1401)
        .await
        .unwrap());
    let a3 = store.claim_jobs("enrich", "w3", 5000, 1000, 10).await.unwrap();
    assert_eq!((a3.len(), a3[0].attempts), (1, 3));
    assert!(store.finish_job(a3[0].id, "w3", &JobOutcome::Done, 5001).await.unwrap());
    // Done and failed jobs are not claimed again, nor queued again.
    assert!(store.claim_jobs("enrich", "w3", 100_000, 1000, 10).await.unwrap().is_empty());
    assert!(!store.enqueue_job("enrich", "fp-a", "{}", 100_000).await.unwrap());
    assert_eq!(store.claim_jobs("ticket", "w1", 100_000, 1000, 10).await.unwrap().len(), 1);
}

pub async fn tickets_move_their_issue_once_and_enrichments_replace(
    store: &(impl IncidentStore + ColdPathStore),
) {
    let batch = WriteBatch {
        signals: vec![signal("s1", None, SignalKind::DeadClick, 100, "https://a.io/o/1")],
        summaries: vec![],
    };
    store.write("ufse", &batch).await.unwrap();
    let fp = store.issues(&filter()).await.unwrap()[0].fingerprint.clone();
    let ticket = Ticket {
        fingerprint: fp.clone(),
        provider: "linear".into(),
        external_id: "ENG-1".into(),
        url: "https://linear.app/t/ENG-1".into(),
        created_ms: 500,
    };
    assert!(store.record_ticket(&ticket).await.unwrap());
    assert!(!store.record_ticket(&Ticket { external_id: "ENG-2".into(), ..ticket.clone() }).await.unwrap());
    assert_eq!(store.tickets(&fp).await.unwrap(), vec![ticket.clone()]);
    assert_eq!(store.issues(&filter()).await.unwrap()[0].status, "ticketed");
    let missing = Ticket { fingerprint: "nope".into(), ..ticket };
    assert!(matches!(store.record_ticket(&missing).await, Err(StoreError::NoSuchIssue(_))));

    let e =
        Enrichment { fingerprint: fp.clone(), model: "m1".into(), summary: "first".into(), created_ms: 1 };
    store.save_enrichment(&e).await.unwrap();
    store
        .save_enrichment(&Enrichment { summary: "second".into(), created_ms: 2, ..e.clone() })
        .await
        .unwrap();
    store.save_enrichment(&Enrichment { model: "m0".into(), ..e.clone() }).await.unwrap();
    let got = store.enrichments(&fp).await.unwrap();
    assert_eq!(
        got.iter().map(|e| (e.model.as_str(), e.summary.as_str())).collect::<Vec<_>>(),
        [("m0", "first"), ("m1", "second")]
    );
}
