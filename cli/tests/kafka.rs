//! The scale-out roles on real engines: `ufse ingest` producing to a real
//! Kafka-protocol broker (tansu), `ufse process` members of one consumer
//! group storing into a real PostgreSQL and a real ClickHouse.
//! `scripts/test.sh` starts the broker and ClickHouse and sets
//! `UFSE_TEST_KAFKA_BROKERS`, `UFSE_TEST_TANSU`, `UFSE_TEST_POSTGRES_URL`
//! and `UFSE_TEST_CLICKHOUSE_URL`; run by hand without them, the tests say
//! SKIPPED and check nothing.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use util::*;

const T0: i64 = 1_732_750_000_000;
/// Sessions the pipeline test sends; each yields a rage, a dead and an error click.
const SESSIONS: usize = 24;

/// A name no other run uses: topics, groups and schemas per test.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// One `ufse` role (`ingest` or `process`), its stderr kept in a file.
struct Role {
    child: Child,
    /// The API's address (`ingest`), or where `/metrics` is (`process`).
    addr: Option<String>,
    /// The default project's key, when this role created it.
    key: Option<String>,
}

impl Role {
    /// Starts `ufse ROLE` with `env` and waits for it to say it runs.
    fn start(role: &str, dir: &Path, env: &[(String, String)], log: &Path) -> Role {
        let mut child = Command::new(ufse_bin())
            .args([role, "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("ufse starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut key, mut metrics) = (None, None);
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("ufse {role} exited: {}", std::fs::read_to_string(log).unwrap_or_default());
            };
            if let Some(k) = line.strip_prefix("default project key: ") {
                key = Some(k.to_owned());
            }
            if let Some(a) = line.strip_prefix("listening on http://") {
                break Some(a.to_owned());
            }
            if let Some(a) = line.strip_prefix("metrics on http://") {
                metrics = a.strip_suffix("/metrics").map(str::to_owned);
            }
            if line.starts_with("processing from ") {
                break metrics;
            }
        };
        Role { child, addr, key }
    }

    /// POSTs a batch with the default project's key; asserts the 202.
    fn accept(&self, body: &[u8]) {
        let key = self.key.as_deref().expect("this role created the default project");
        let r = request(self.addr.as_deref().unwrap(), "POST", "/v1/batch", &[("X-Ufse-Key", key)], body);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    }

    /// SIGTERM, and the exit code.
    fn terminate(mut self) -> Option<i32> {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap().code()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Owned `(name, value)` pairs, for the roles' environment.
fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// `ufse kafka init` with `env`; returns what it printed.
fn kafka_init(env: &[(String, String)]) -> String {
    let out = Command::new(ufse_bin())
        .args(["kafka", "init"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// On a failing test, shows what the roles logged (their temp directory goes with the test).
struct ShowLogsOnPanic<'a>(&'a Path);

impl Drop for ShowLogsOnPanic<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for entry in std::fs::read_dir(self.0).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                let _ = writeln!(std::io::stderr(), "--- {} (last lines)", path.display());
                for line in tail.into_iter().rev() {
                    let _ = writeln!(std::io::stderr(), "{line}");
                }
            }
        }
    }
}

/// `psql -At`: the rows of `sql`, one per line, `|` between columns.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-At", "-c", sql])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// One session's events, in three batches the test sends at different moments.
fn session_parts(sid: &str) -> [Vec<u8>; 3] {
    let url = format!("https://shop.example.com/cart/{sid}");
    [
        batch(
            sid,
            vec![
                serde_json::json!({"t":"nav","ts":T0,"seq":1,"url":url,"nav":"load"}),
                click(2, T0 + 100, 400, "button#checkout"),
                click(3, T0 + 300, 402, "button#checkout"),
            ],
        ),
        batch(
            sid,
            vec![
                click(4, T0 + 500, 401, "button#checkout"),
                serde_json::json!({"t":"error","ts":T0 + 700,"seq":5,"msg":"TypeError","kind":"error"}),
            ],
        ),
        batch(sid, vec![serde_json::json!({"t":"custom","ts":T0 + 60_000,"seq":6,"name":"heartbeat"})]),
    ]
}

/// What a schema holds, in a form two runs can be compared by: incidents,
/// issues with their counters, session summaries, and the events indexed.
fn stored(url: &str, schema: &str) -> (String, String, String, i64) {
    let incidents = psql(
        url,
        &format!("SELECT id, kind, sid, ts, end_ts, count, sel FROM \"{schema}\".incidents ORDER BY id"),
    );
    let issues = psql(
        url,
        &format!("SELECT fingerprint, kind, incidents, sessions, users FROM \"{schema}\".issues ORDER BY fingerprint"),
    );
    let sessions = psql(
        url,
        &format!(
            "SELECT sid, part, start_ts, end_ts, pages, counts, signals, ended FROM \"{schema}\".sessions ORDER BY sid, part"
        ),
    );
    let events = psql(url, &format!("SELECT COALESCE(SUM(n), 0) FROM \"{schema}\".event_refs"));
    (incidents, issues, sessions, events.trim().parse().unwrap())
}

fn count_rows(url: &str, schema: &str, table: &str) -> usize {
    psql(url, &format!("SELECT COUNT(*) FROM \"{schema}\".{table}")).trim().parse().unwrap()
}

fn drop_schemas(url: &str, schemas: &[&str]) {
    for s in schemas {
        psql(url, &format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"));
    }
}

/// The events of a ClickHouse database, merged: `sid seq event` lines in order.
fn archived_events(url: &str, db: &str) -> String {
    clickhouse(url, &format!("SELECT sid, seq, event FROM {db}.events FINAL ORDER BY sid, seq"))
}

/// Two processors share the topic; one is killed with SIGKILL between a
/// session's batches and restarted later. Every event is indexed once and
/// is in ClickHouse once, and the incidents, issues and sessions are
/// exactly those a single, uninterrupted processor derives from the same
/// topic.
#[test]
fn two_processors_and_a_sigkill_store_what_one_uninterrupted_processor_stores() {
    let (Ok(brokers), Ok(url), Ok(ch)) = (
        std::env::var("UFSE_TEST_KAFKA_BROKERS"),
        std::env::var("UFSE_TEST_POSTGRES_URL"),
        std::env::var("UFSE_TEST_CLICKHOUSE_URL"),
    ) else {
        return skip("UFSE_TEST_KAFKA_BROKERS, UFSE_TEST_POSTGRES_URL or UFSE_TEST_CLICKHOUSE_URL");
    };
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("ufse_test");
    let (schema, baseline) = (unique("ufse_kafka_test"), unique("ufse_kafka_base"));
    let env = |schema: &str, group: &str| {
        vars(&[
            ("UFSE_KAFKA_BROKERS", brokers.as_str()),
            ("UFSE_KAFKA_TOPIC", topic.as_str()),
            ("UFSE_KAFKA_PARTITIONS", "4"),
            ("UFSE_KAFKA_REPLICATION_FACTOR", "1"),
            ("UFSE_KAFKA_GROUP", group),
            ("UFSE_KAFKA_SESSION_TIMEOUT_MS", "6000"),
            ("UFSE_PROCESSOR_SNAPSHOT_INTERVAL_MS", "1000"),
            ("UFSE_POSTGRES_URL", url.as_str()),
            ("UFSE_POSTGRES_SCHEMA", schema),
            ("UFSE_CLICKHOUSE_URL", ch.as_str()),
            ("UFSE_CLICKHOUSE_DATABASE", schema),
        ])
    };
    let group = format!("{topic}_g");
    let run = env(&schema, &group);
    assert_eq!(kafka_init(&run), format!("created topic {topic} with 4 partitions"));

    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let _logs = ShowLogsOnPanic(dir.path());
    let ingest = Role::start("ingest", dir.path(), &run, &log("ingest"));
    let mut p1 = Role::start("process", dir.path(), &run, &log("p1"));
    let p2 = Role::start("process", dir.path(), &run, &log("p2"));
    let sessions: Vec<[Vec<u8>; 3]> = (0..SESSIONS).map(|i| session_parts(&format!("k{i}"))).collect();
    let indexed = |schema: &str| stored(&url, schema).3;
    // Both members own partitions (the second to join gets some only once the group has both),
    // so the one killed below dies holding sessions in progress.
    let owns_partitions =
        |name: &str| std::fs::read_to_string(log(name)).unwrap_or_default().contains("partition assigned");
    wait_for("both members to own partitions", Duration::from_secs(60), || {
        (owns_partitions("p1") && owns_partitions("p2")).then_some(())
    });

    // Each session's first batch, processed (by whichever member owns its partition)...
    for s in &sessions {
        ingest.accept(&s[0]);
    }
    wait_for("the first batches indexed", Duration::from_secs(60), || {
        (indexed(&schema) == 3 * SESSIONS as i64).then_some(())
    });
    // ...then one member dies without a word. The other goes on with its own partitions.
    // (Kafka would also hand it the dead member's once `session.timeout.ms` passed; tansu,
    // the test broker, keeps them with the dead member until another joins.)
    p1.child.kill().unwrap();
    p1.child.wait().unwrap();
    for s in &sessions {
        ingest.accept(&s[1]);
    }
    wait_for("the survivor's share of the second batches", Duration::from_secs(60), || {
        (indexed(&schema) > 3 * SESSIONS as i64).then_some(())
    });
    // tansu forgets the dead member only once its session timed out (6 s); a member joining
    // before that would share the partitions out with the dead one again.
    std::thread::sleep(Duration::from_secs(8));
    // It comes back as a new member; the partitions are shared out again and each resumes
    // from the last snapshot in the store, whoever wrote it.
    p1 = Role::start("process", dir.path(), &run, &log("p1-again"));
    for s in &sessions {
        ingest.accept(&s[2]);
    }
    wait_for("every incident", Duration::from_secs(60), || {
        (count_rows(&url, &schema, "incidents") == 3 * SESSIONS && indexed(&schema) == 6 * SESSIONS as i64)
            .then_some(())
    });
    // A processor serves its metrics on --listen.
    let metrics = request(p2.addr.as_deref().unwrap(), "GET", "/metrics", &[], b"");
    let text = String::from_utf8_lossy(&metrics.body);
    assert_eq!(metrics.status, 200);
    assert!(
        text.contains("ufse_processor_events_total") && text.contains("ufse_clickhouse_rows_total"),
        "{text}"
    );
    assert_eq!(ingest.terminate(), Some(0));
    assert_eq!(p1.terminate(), Some(0));
    assert_eq!(p2.terminate(), Some(0));

    // One processor of another group reads the same topic from the start, uninterrupted.
    let base = env(&baseline, &format!("{topic}_base"));
    let single = Role::start("process", dir.path(), &base, &log("baseline"));
    wait_for("the baseline's incidents", Duration::from_secs(60), || {
        (count_rows(&url, &baseline, "incidents") == 3 * SESSIONS
            && indexed(&baseline) == 6 * SESSIONS as i64)
            .then_some(())
    });
    assert_eq!(single.terminate(), Some(0));

    let (got, want) = (stored(&url, &schema), stored(&url, &baseline));
    assert_eq!(got.3, 6 * SESSIONS as i64, "every accepted event indexed once");
    assert_eq!(got.0, want.0, "incidents");
    assert_eq!(got.1, want.1, "issues and their counters");
    assert_eq!(got.2, want.2, "session summaries");
    let kinds = psql(&url, &format!("SELECT kind, COUNT(*), MIN(count), MAX(count) FROM \"{schema}\".incidents WHERE kind = 'rage_click' GROUP BY kind"));
    assert_eq!(
        kinds.trim(),
        format!("rage_click|{SESSIONS}|3|3"),
        "each rage run counted whole across the hand-over"
    );
    assert_eq!(count_rows(&url, &schema, "sessions"), SESSIONS, "no session split in parts");

    // ClickHouse: every accepted event once, merged, as the uninterrupted processor stored it,
    // and one signal per incident.
    let unique = clickhouse(&ch, &format!("SELECT count(), uniqExact(sid, seq) FROM {schema}.events FINAL"));
    assert_eq!(unique, format!("{0}\t{0}", 6 * SESSIONS), "every accepted event in ClickHouse once");
    let archived = archived_events(&ch, &schema);
    assert_eq!(archived, archived_events(&ch, &baseline), "the events, as one processor stored them");
    let ids = psql(&url, &format!("SELECT id FROM \"{schema}\".incidents ORDER BY id"));
    let signals = clickhouse(&ch, &format!("SELECT id FROM {schema}.signals FINAL ORDER BY id"));
    assert_eq!(signals, ids.trim(), "one signal row per incident");
    // Replay reads the session back from ClickHouse, hand-over and all.
    let run_env: Vec<(&str, &str)> = run.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replay = json_text(dir.path(), &run_env, &["replay", "k0"]);
    assert_eq!(replay.lines().filter(|l| l.contains("\"type\":\"event\"")).count(), 6, "{replay}");
    assert!(replay.contains("rage_click"), "{replay}");
    for db in [&schema, &baseline] {
        clickhouse(&ch, &format!("DROP DATABASE IF EXISTS {db}"));
    }
    drop_schemas(&url, &[&schema, &baseline]);
}

/// A tansu broker of the test's own, on a port of its own, that the test can stop and start.
struct Broker {
    process: OwnProcess,
    dir: tempfile::TempDir,
    port: u16,
    tansu: String,
}

impl Broker {
    fn start(tansu: &str) -> Broker {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut b = Broker {
            process: OwnProcess::default(),
            dir: tempfile::tempdir().unwrap(),
            port,
            tansu: tansu.to_owned(),
        };
        b.restart();
        b
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it on the same storage, and waits until it accepts connections.
    fn restart(&mut self) {
        let url = format!("tcp://{}", self.addr());
        let child = Command::new(&self.tansu)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        self.process.set(child);
        wait_for("the broker to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(self.addr()).ok().map(|_| ())
        });
    }

    fn kill(&mut self) {
        self.process.kill();
    }
}

/// While the broker is down the edge answers 503 with Retry-After, never a
/// 202 it could not keep; once the broker is back it accepts again, by itself.
#[test]
fn the_edge_answers_503_while_the_broker_is_down_and_recovers_by_itself() {
    let (Ok(tansu), Ok(url)) = (std::env::var("UFSE_TEST_TANSU"), std::env::var("UFSE_TEST_POSTGRES_URL"))
    else {
        return skip("UFSE_TEST_TANSU or UFSE_TEST_POSTGRES_URL");
    };
    let mut broker = Broker::start(&tansu);
    let dir = tempfile::tempdir().unwrap();
    let schema = unique("ufse_kafka_outage");
    let env = vars(&[
        ("UFSE_KAFKA_BROKERS", broker.addr().as_str()),
        ("UFSE_KAFKA_PARTITIONS", "2"),
        ("UFSE_KAFKA_REPLICATION_FACTOR", "1"),
        ("UFSE_KAFKA_DELIVERY_TIMEOUT_MS", "1500"),
        // After a delivery timeout librdkafka's idempotent producer bumps its epoch itself
        // (KIP-360), which tansu refuses (UNKNOWN_SERVER_ERROR on every later batch); Kafka
        // accepts it. So this outage runs without idempotence.
        ("UFSE_KAFKA_CLIENT", r#"{ "enable.idempotence" = "false" }"#),
        ("UFSE_POSTGRES_URL", url.as_str()),
        ("UFSE_POSTGRES_SCHEMA", schema.as_str()),
    ]);
    assert_eq!(kafka_init(&env), "created topic ufse-events with 2 partitions");
    let log = dir.path().join("ingest.log");
    let _logs = ShowLogsOnPanic(dir.path());
    let ingest = Role::start("ingest", dir.path(), &env, &log);
    let post = |sid: &str| {
        let key = ingest.key.as_deref().unwrap();
        request(
            ingest.addr.as_deref().unwrap(),
            "POST",
            "/v1/batch",
            &[("X-Ufse-Key", key)],
            &shop_batch(sid),
        )
    };
    assert_eq!(post("before").status, 202);

    broker.kill();
    for sid in ["down-1", "down-2"] {
        let r = post(sid);
        assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.reason(), "log_unavailable");
        assert!(r.header("retry-after").is_some(), "503 says when to retry");
    }

    broker.restart();
    let back = wait_for("the edge to accept again", Duration::from_secs(60), || {
        let r = post("after");
        (r.status == 202).then_some(r)
    });
    assert_eq!(back.json()["accepted"], 6);
    assert_eq!(ingest.terminate(), Some(0));
    drop_schemas(&url, &[&schema]);
}

/// The single roles exist only to share a Kafka topic; without one they
/// say so instead of running on a log no other process can read.
#[test]
fn ingest_and_process_refuse_to_run_without_kafka() {
    let dir = tempfile::tempdir().unwrap();
    for role in ["ingest", "process"] {
        let out = ufse(dir.path(), &[role]);
        assert_eq!(out.status.code(), Some(1), "ufse {role}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("`ufse {role}`")) && err.contains("[kafka] brokers"), "{err}");
    }
    let out = ufse(dir.path(), &["kafka", "init"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Kafka brokers"));
}
