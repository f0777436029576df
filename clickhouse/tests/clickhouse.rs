//! The archive against a real ClickHouse (18.16 on Debian 12, where the
//! schema must run as it is). The server is `UFSE_TEST_CLICKHOUSE_URL`,
//! which `scripts/test.sh` starts and sets; run by hand without it, the
//! tests say SKIPPED and check nothing.

use std::io::Write;

use serde_json::json;
use ufse_clickhouse::{ClickHouse, ClickHouseConfig};
use ufse_engine::{Signal, SignalKind};
use ufse_incident_store::incident_id;
use ufse_schema::{Event, LogBatch};
use ufse_sessionizer::SessionSignal;

const T0: i64 = 1_732_750_000_000;

/// A database of the test's own.
struct TestDb {
    config: ClickHouseConfig,
    client: clickhouse::Client,
}

impl TestDb {
    fn new(name: &str) -> Option<TestDb> {
        let Ok(url) = std::env::var("UFSE_TEST_CLICKHOUSE_URL") else {
            // Straight to stderr: the test harness would swallow eprintln! of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: UFSE_TEST_CLICKHOUSE_URL is not set; scripts/test.sh sets it"
            );
            return None;
        };
        let database = format!("ufse_test_{name}_{}", std::process::id());
        let client = clickhouse::Client::default().with_url(&url).with_validation(false);
        Some(TestDb { config: ClickHouseConfig { url, database, ..ClickHouseConfig::default() }, client })
    }

    /// Drops the database (a failed test leaves it, in the test script's throwaway server).
    async fn drop(self) {
        let sql = format!("DROP DATABASE IF EXISTS {}", self.config.database);
        self.client.query(&sql).execute().await.unwrap();
    }

    async fn count(&self, sql: &str) -> u64 {
        let sql = sql.replace("{db}", &self.config.database);
        self.client.query(&sql).fetch_one::<u64>().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

fn event(v: serde_json::Value) -> Event {
    serde_json::from_value(v).expect("a valid event")
}

fn batch(sid: &str, received_ms: i64, events: Vec<Event>) -> LogBatch {
    LogBatch {
        project: "shop".into(),
        sid: sid.into(),
        uid: Some("u-1".into()),
        received_ms,
        skew_ms: -250,
        sdk_dropped: 0,
        ctx: json!({"vh": 720, "ua": "Mozilla/5.0 \"quoted\" ünïcode"}).as_object().cloned(),
        events,
    }
}

#[tokio::test]
async fn events_read_back_as_their_batches_once_however_often_they_were_written() {
    let Some(db) = TestDb::new("events") else { return };
    let ch = ClickHouse::open(&db.config).await.unwrap();
    // The schema is created once and opening again changes nothing.
    let ch_again = ClickHouse::open(&db.config).await.unwrap();

    let first = batch(
        "s1",
        T0 + 500,
        vec![
            event(
                json!({"t":"nav","ts":T0,"seq":1,"url":"https://shop.example.com/cart/42?x=1","nav":"load"}),
            ),
            event(
                json!({"t":"click","ts":T0+100,"seq":3,"x":1,"y":2,"sel":"button#buy","el":{"tag":"button"},"txt":"Pay 'now' — ünïcode \\ \n"}),
            ),
            event(json!({"t":"later_kind","ts":T0+200,"seq":4,"extra":{"deep":[1,2]}})),
        ],
    );
    let second = batch("s1", T0 + 900, vec![event(json!({"t":"scroll","ts":T0+800,"seq":5,"y":300}))]);

    let mut archive = ch.archive("ufse");
    // Seq 2 was a duplicate in the record: positions say where the stored ones were.
    archive.add_events(&first, &[0, 2, 3], 0, 17).await.unwrap();
    archive.flush().await.unwrap();
    // Processed again after a crash: the same rows, another INSERT, by another writer.
    let mut again = ch_again.archive("ufse");
    again.add_events(&first, &[0, 2, 3], 0, 17).await.unwrap();
    again.add_events(&second, &[0], 0, 18).await.unwrap();
    again.flush().await.unwrap();

    assert_eq!(db.count("SELECT count() FROM {db}.events").await, 7, "the copies are there until merged");
    assert_eq!(db.count("SELECT count() FROM {db}.events FINAL").await, 4, "each event once, read merged");
    let got = ch.session_batches("shop", "s1").await.unwrap();
    assert_eq!(got, vec![first.clone(), second.clone()], "each batch once, as it was, in log order");
    assert!(ch.session_batches("shop", "nobody").await.unwrap().is_empty());
    assert!(ch.session_batches("other", "s1").await.unwrap().is_empty());

    // Analytics columns: the page is the host + path template, the selector the click's.
    let pages = db
        .count(
            "SELECT count() FROM {db}.events FINAL WHERE page = 'shop.example.com/cart/:id' AND kind = 'nav'",
        )
        .await;
    assert_eq!(pages, 1);
    assert_eq!(db.count("SELECT count() FROM {db}.events FINAL WHERE sel = 'button#buy'").await, 1);
    db.drop().await;
}

#[tokio::test]
async fn a_seq_stored_twice_with_other_contents_keeps_its_first_copy() {
    let Some(db) = TestDb::new("first") else { return };
    let ch = ClickHouse::open(&db.config).await.unwrap();
    let original = batch("s2", T0 + 500, vec![event(json!({"t":"custom","ts":T0,"seq":1,"name":"first"}))]);
    let retry = batch("s2", T0 + 90_000, vec![event(json!({"t":"custom","ts":T0,"seq":1,"name":"second"}))]);
    let mut archive = ch.archive("ufse");
    // Written in the opposite order: which copy wins must not depend on it.
    archive.add_events(&retry, &[0], 1, 9).await.unwrap();
    archive.flush().await.unwrap();
    archive.add_events(&original, &[0], 1, 3).await.unwrap();
    archive.flush().await.unwrap();
    assert_eq!(ch.session_batches("shop", "s2").await.unwrap(), vec![original.clone()]);
    // Merged, ClickHouse keeps the same copy.
    db.client.query(&format!("OPTIMIZE TABLE {}.events FINAL", db.config.database)).execute().await.unwrap();
    assert_eq!(db.count("SELECT count() FROM {db}.events").await, 1);
    assert_eq!(ch.session_batches("shop", "s2").await.unwrap(), vec![original]);
    db.drop().await;
}

#[tokio::test]
async fn signals_are_stored_once_under_their_incident_ids() {
    let Some(db) = TestDb::new("signals") else { return };
    let ch = ClickHouse::open(&db.config).await.unwrap();
    let signal = SessionSignal {
        project: "shop".into(),
        uid: None,
        seen_ms: T0 + 300,
        signal: Signal {
            kind: SignalKind::RageClick,
            sid: "s3".into(),
            ts: T0,
            end_ts: T0 + 400,
            count: 3,
            evidence: vec![2, 3, 4],
            sel: Some("button#buy".into()),
            url: Some("https://shop.example.com/cart/42".into()),
        },
    };
    let mut archive = ch.archive("ufse");
    archive.add_signals(std::slice::from_ref(&signal)).await.unwrap();
    archive.flush().await.unwrap();
    archive.add_signals(std::slice::from_ref(&signal)).await.unwrap();
    archive.flush().await.unwrap();

    let id = incident_id("ufse", "shop", &signal.signal);
    let sql = format!(
        "SELECT count() FROM {{db}}.signals FINAL WHERE id = '{id}' AND page = 'shop.example.com/cart/:id' \
         AND kind = 'rage_click' AND count = 3 AND evidence = [2, 3, 4] AND time = toDateTime({})",
        (T0 + 300) / 1000
    );
    assert_eq!(db.count(&sql).await, 1);
    assert_eq!(db.count("SELECT count() FROM {db}.signals FINAL").await, 1);
    db.drop().await;
}

#[tokio::test]
async fn a_reader_creates_nothing_and_reads_once_a_writer_has() {
    let Some(db) = TestDb::new("reader") else { return };
    let reader = ClickHouse::connect(&db.config);
    let err = reader.session_batches("shop", "s1").await.expect_err("no database to read yet");
    assert!(err.to_string().contains("reading a session"), "{err}");
    let databases = format!("SELECT count() FROM system.databases WHERE name = '{}'", db.config.database);
    assert_eq!(db.count(&databases).await, 0, "the reader created its database");

    let ch = ClickHouse::open(&db.config).await.unwrap();
    let mut archive = ch.archive("ufse");
    let stored = batch("s1", T0, vec![event(json!({"t": "scroll", "ts": T0, "seq": 1, "y": 300}))]);
    archive.add_events(&stored, &[0], 0, 7).await.unwrap();
    archive.flush().await.unwrap();
    assert_eq!(reader.session_batches("shop", "s1").await.unwrap(), vec![stored]);
    db.drop().await;
}
