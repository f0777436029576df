//! Raw events and signals in a real ClickHouse (18.16 on Debian 12): what a
//! real `ufse serve` writes there is what `ufse replay` and `ufse sessions
//! show` read back, and an outage of ClickHouse is waited out.
//! `scripts/test.sh` starts the server and sets `UFSE_TEST_CLICKHOUSE_URL`
//! and `UFSE_TEST_CLICKHOUSE_SERVER`; run by hand without them, the tests
//! say SKIPPED and check nothing.

mod util;

use std::process::{Command, Stdio};
use std::time::Duration;

use util::*;

/// Embedded log, ClickHouse beside it: a session read back from ClickHouse
/// replays exactly as the same session read from the log, every event is
/// stored once (a batch sent twice included), and each incident is a
/// signal row under its id.
#[test]
fn a_session_replays_from_clickhouse_as_it_does_from_the_log() {
    let Ok(url) = std::env::var("UFSE_TEST_CLICKHOUSE_URL") else {
        return skip("UFSE_TEST_CLICKHOUSE_URL");
    };
    let db = format!("ufse_cli_test_{}", std::process::id());
    let ch = [("UFSE_CLICKHOUSE_URL", url.as_str()), ("UFSE_CLICKHOUSE_DATABASE", db.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &ch);
    // A rage run with an error after it, sent twice (a client retry), then a scroll measured in
    // the batch's viewport (replay needs the batch context).
    assert_eq!(server.post(&shop_batch("ch1"), &[]).status, 202);
    assert_eq!(server.post(&shop_batch("ch1"), &[]).status, 202);
    let scroll = serde_json::json!({"v":1,"sid":"ch1","ctx":{"vh":700},"events":[
        {"t":"scroll","ts":1_732_750_061_000_i64,"seq":7,"y":1400},
        {"t":"scroll","ts":1_732_750_061_400_i64,"seq":8,"y":0}]});
    assert_eq!(server.post(scroll.to_string().as_bytes(), &[]).status, 202);
    let events = format!("SELECT count() FROM {db}.events FINAL WHERE sid = 'ch1'");
    wait_for("the events in ClickHouse", Duration::from_secs(30), || {
        (clickhouse(&url, &events) == "8").then_some(())
    });
    assert_eq!(server.terminate(), Some(0));

    // Both copies of the retried batch reached the processor; one was stored.
    assert_eq!(clickhouse(&url, &format!("SELECT count() FROM {db}.events WHERE sid = 'ch1'")), "8");
    for args in [&["replay", "ch1"][..], &["replay", "ch1", "--explain"], &["sessions", "show", "ch1"]] {
        let from_clickhouse = json_text(dir.path(), &ch, args);
        let from_log = json_text(dir.path(), &[], args);
        assert!(
            from_clickhouse.lines().filter(|l| l.contains("\"type\":\"event\"")).count() == 8,
            "{from_clickhouse}"
        );
        assert_eq!(from_clickhouse, from_log, "ufse {args:?}");
    }
    let incidents = json_text(dir.path(), &[], &["incidents", "list", "--project", "default"]);
    let ids: Vec<String> = incidents
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.len() >= 2, "a rage click and an error click at least: {incidents}");
    let mut stored: Vec<String> = clickhouse(&url, &format!("SELECT id FROM {db}.signals FINAL ORDER BY id"))
        .lines()
        .map(str::to_owned)
        .collect();
    let mut want = ids.clone();
    want.sort();
    stored.sort();
    assert_eq!(stored, want, "one signal row per incident, under its id");
    clickhouse(&url, &format!("DROP DATABASE {db}"));
}

/// A ClickHouse server of the test's own, on ports of its own, that the test can stop and start.
struct OwnClickHouse {
    process: OwnProcess,
    dir: tempfile::TempDir,
    server: String,
    ports: [u16; 3],
}

impl OwnClickHouse {
    fn start(server: &str) -> OwnClickHouse {
        let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut ch = OwnClickHouse {
            process: OwnProcess::default(),
            dir: tempfile::tempdir().unwrap(),
            server: server.to_owned(),
            ports: [port(), port(), port()],
        };
        ch.restart();
        ch
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[0])
    }

    /// Starts it on the same data directory, and waits until it answers.
    fn restart(&mut self) {
        let d = self.dir.path().display();
        let [http, tcp, interserver] = self.ports;
        let child = Command::new(&self.server)
            .args(["--config-file=/etc/clickhouse-server/config.xml", "--"])
            .args([
                format!("--path={d}/data/"),
                format!("--tmp_path={d}/tmp/"),
                format!("--user_files_path={d}/data/user_files/"),
                format!("--format_schema_path={d}/data/format_schemas/"),
                format!("--logger.log={d}/server.log"),
                format!("--logger.errorlog={d}/error.log"),
                format!("--http_port={http}"),
                format!("--tcp_port={tcp}"),
                format!("--interserver_http_port={interserver}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("clickhouse-server starts");
        self.process.set(child);
        let url = self.url();
        wait_for("ClickHouse to answer", Duration::from_secs(30), || {
            let addr = url.trim_start_matches("http://");
            std::net::TcpStream::connect(addr).ok()?;
            (request(addr, "GET", "/?query=SELECT%201", &[], b"").status == 200).then_some(())
        });
    }

    fn kill(&mut self) {
        self.process.kill();
    }
}

/// ClickHouse goes down while batches keep coming: the edge keeps accepting,
/// the processor waits (it neither stops nor moves past what it could not
/// store), and once ClickHouse is back every event is in it exactly once.
#[test]
fn the_processor_waits_out_a_clickhouse_outage_and_loses_nothing() {
    let Ok(server) = std::env::var("UFSE_TEST_CLICKHOUSE_SERVER") else {
        return skip("UFSE_TEST_CLICKHOUSE_SERVER");
    };
    let mut ch = OwnClickHouse::start(&server);
    let url = ch.url();
    let env = [
        ("UFSE_CLICKHOUSE_URL", url.as_str()),
        ("UFSE_CLICKHOUSE_INSERT_INTERVAL_MS", "200"),
        ("UFSE_PROCESSOR_SNAPSHOT_INTERVAL_MS", "300"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Server::start(dir.path(), &env);
    let stored =
        |sid: &str| clickhouse(&url, &format!("SELECT count() FROM ufse.events FINAL WHERE sid = '{sid}'"));
    assert_eq!(serve.post(&shop_batch("before"), &[]).status, 202);
    wait_for("the first session in ClickHouse", Duration::from_secs(30), || {
        (stored("before") == "6").then_some(())
    });

    ch.kill();
    assert_eq!(serve.post(&shop_batch("during"), &[]).status, 202, "the edge does not depend on ClickHouse");
    let outages = || {
        let text = String::from_utf8(serve.request("GET", "/metrics", &[], b"").body).unwrap();
        text.lines().find_map(|l| l.strip_prefix("ufse_processor_outages_total ")).map(str::to_owned)
    };
    wait_for("the processor to notice", Duration::from_secs(30), outages);
    std::thread::sleep(Duration::from_secs(1));
    assert!(serve.child.try_wait().unwrap().is_none(), "ufse serve keeps running");

    ch.restart();
    wait_for("the second session in ClickHouse", Duration::from_secs(60), || {
        (stored("during") == "6").then_some(())
    });
    assert_eq!(serve.post(&shop_batch("after"), &[]).status, 202);
    wait_for("the third session in ClickHouse", Duration::from_secs(30), || {
        (stored("after") == "6").then_some(())
    });
    assert_eq!(serve.terminate(), Some(0));

    assert_eq!(clickhouse(&url, "SELECT count(), uniqExact(sid, seq) FROM ufse.events FINAL"), "18\t18");
    let incidents = json_text(dir.path(), &[], &["incidents", "list"]);
    let mut ids: Vec<String> = incidents
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 9, "a rage, a dead and an error click per session: {incidents}");
    let signals: Vec<String> = clickhouse(&url, "SELECT id FROM ufse.signals FINAL ORDER BY id")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(signals, ids, "one signal row per incident");
}
