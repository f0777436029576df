//! Raw events and signals in a real ClickHouse (18.16 on Debian 12): what a
//! real `ufse serve` writes there is what `ufse replay` and `ufse sessions
//! show` read back. `scripts/test.sh` starts the server and sets
//! `UFSE_TEST_CLICKHOUSE_URL`; run by hand without it, the test says SKIPPED
//! and checks nothing.

mod util;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use util::*;

/// `ufse ARGS --json` on `dir` with `env`: its JSON lines, as text.
fn json_out(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let out = Command::new(ufse_bin())
        .args(args)
        .args(["--json", "--data-dir"])
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "ufse {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Embedded log, ClickHouse beside it: a session read back from ClickHouse
/// replays exactly as the same session read from the log, every event is
/// stored once (a batch sent twice included), and each incident is a
/// signal row under its id.
#[test]
fn a_session_replays_from_clickhouse_as_it_does_from_the_log() {
    let Ok(url) = std::env::var("UFSE_TEST_CLICKHOUSE_URL") else {
        // Straight to stderr: the test harness would swallow eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: UFSE_TEST_CLICKHOUSE_URL is not set; scripts/test.sh sets it"
        );
        return;
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
        let from_clickhouse = json_out(dir.path(), &ch, args);
        let from_log = json_out(dir.path(), &[], args);
        assert!(
            from_clickhouse.lines().filter(|l| l.contains("\"type\":\"event\"")).count() == 8,
            "{from_clickhouse}"
        );
        assert_eq!(from_clickhouse, from_log, "ufse {args:?}");
    }
    let incidents = json_out(dir.path(), &[], &["incidents", "list", "--project", "default"]);
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
