//! `ufse serve` end to end over real HTTP: batches in, incidents out.

mod util;

use std::time::Duration;

use serde_json::json;
use util::*;

const T0: i64 = 1_732_750_000_000;

fn kinds(dir: &std::path::Path, min: usize) -> Vec<(String, String)> {
    wait_for("incidents", Duration::from_secs(30), || {
        let mut v: Vec<(String, String)> = json_lines(dir, &["incidents", "list"])
            .iter()
            .map(|i| (i["sid"].as_str().unwrap().to_owned(), i["kind"].as_str().unwrap().to_owned()))
            .collect();
        v.sort();
        (v.len() >= min).then_some(v)
    })
}

#[test]
fn gzip_and_plain_batches_become_incidents_and_issues() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let r = server.post(&gzip(&shop_batch("gz")), &[("Content-Encoding", "gzip")]);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json(), json!({"accepted": 6, "dropped": [], "truncated": []}));
    // gzip without the header (sendBeacon) and plain JSON with an odd content type.
    assert_eq!(server.post(&gzip(&shop_batch("beacon")), &[("Content-Type", "text/plain")]).status, 202);
    assert_eq!(server.post(&shop_batch("plain"), &[("Content-Type", "application/x-whatever")]).status, 202);
    let got = kinds(dir.path(), 9);
    let want: Vec<(String, String)> = ["beacon", "gz", "plain"]
        .iter()
        .flat_map(|s| ["dead_click", "error_click", "rage_click"].map(|k| (s.to_string(), k.to_string())))
        .collect();
    assert_eq!(got, want);
    let issues = json_lines(dir.path(), &["issues", "list"]);
    assert_eq!(issues.len(), 3, "three kinds on one page and selector: {issues:?}");
    for i in &issues {
        assert_eq!(i["sessions"], 3);
        assert_eq!(i["users"], 3);
        assert_eq!(i["url_template"], "shop.example.com/cart/:id");
    }
    let rage = json_lines(dir.path(), &["incidents", "list", "--kind", "rage_click", "--limit", "1"]);
    assert_eq!(rage.len(), 1);
    assert_eq!(rage[0]["evidence"], json!([2, 3, 4]));
    // The session is replayable.
    let show = json_lines(dir.path(), &["sessions", "show", "gz"]);
    let events: Vec<_> = show.iter().filter(|l| l["type"] == "event").collect();
    assert_eq!(events.len(), 6);
    assert_eq!(server.terminate(), Some(0), "graceful shutdown exits 0");
}

#[test]
fn health_readiness_metrics_and_cors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.request("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(server.request("GET", "/readyz", &[], b"").status, 200);
    let pre = server.request(
        "OPTIONS",
        "/v1/batch",
        &[("Origin", "https://shop.example.com"), ("Access-Control-Request-Method", "POST")],
        b"",
    );
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some("https://shop.example.com"));
    assert!(pre.header("access-control-allow-headers").unwrap().contains("x-ufse-key"));
    let r = server.post(&shop_batch("s"), &[("Origin", "https://shop.example.com")]);
    assert_eq!(r.status, 202);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://shop.example.com"));
    let _ = kinds(dir.path(), 3);
    let m = String::from_utf8(server.request("GET", "/metrics", &[], b"").body).unwrap();
    assert!(m.contains("ufse_ingest_events_accepted_total 6"), "{m}");
    assert!(m.contains("ufse_incidents_stored_total 3"), "{m}");
}

#[test]
fn projects_keys_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("UFSE_INGEST_KEY_CACHE_MS", "0")]);
    let out = ufse(dir.path(), &["projects", "create", "shop"]);
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned();
    assert!(key.starts_with("uk_"));
    let list = json_lines(dir.path(), &["projects", "list"]);
    assert_eq!(list.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), vec!["default", "shop"]);
    let post = |k: &str| server.request("POST", "/v1/batch", &[("X-Ufse-Key", k)], &shop_batch("p"));
    assert_eq!(post(&key).status, 202);
    assert_eq!(server.request("POST", &format!("/v1/batch?key={key}"), &[], &shop_batch("q")).status, 202);
    assert!(ufse(dir.path(), &["projects", "keys", "revoke", &key]).status.success());
    let r = post(&key);
    assert_eq!((r.status, r.reason()), (401, "revoked_key".into()));
    let r = post("uk_00000000000000000000000000000000");
    assert_eq!((r.status, r.reason()), (401, "unknown_key".into()));
    // The other project's key still works, and its incidents are its own.
    assert_eq!(server.post(&shop_batch("d"), &[]).status, 202);
    let shop = wait_for("shop incidents", Duration::from_secs(30), || {
        let v = json_lines(dir.path(), &["incidents", "list", "--project", "shop"]);
        (v.len() >= 6).then_some(v)
    });
    assert!(shop.iter().all(|i| i["project"] == "shop"));
    // Revoking twice or an unknown key is a clear failure.
    let out = ufse(dir.path(), &["projects", "keys", "revoke", "uk_nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such key"));
}

#[test]
fn cli_usage_errors_exit_2_and_a_closed_pipe_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(ufse(dir.path(), &["incidents", "frobnicate"]).status.code(), Some(2));
    assert_eq!(ufse(dir.path(), &["issues", "list", "--limit", "many"]).status.code(), Some(2));
    let bad = std::process::Command::new(ufse_bin())
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("UFSE_INGEST_MAX_EVENTS", "lots")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("UFSE_INGEST_MAX_EVENTS"));
    // --demo without the built SDK says how to get it.
    let demo = std::process::Command::new(ufse_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--demo", "--demo-listen", "127.0.0.1:0", "--demo-dir"])
        .arg(dir.path().join("no-sdk"))
        .arg("--data-dir")
        .arg(dir.path().join("demo-data"))
        .output()
        .unwrap();
    assert_eq!(demo.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&demo.stderr).contains("build the SDK first"), "{demo:?}");
    // `ufse detect big | head -1` must not fail when head exits.
    let mut lines = Vec::new();
    for i in 0..2000 {
        lines.extend(batch(&format!("s{i}"), vec![click(1, T0, 0, "button#x")]));
        lines.push(b'\n');
    }
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' detect '{}' | head -1; echo \"${{PIPESTATUS:-0}}\"",
            ufse_bin().display(),
            input.display()
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("{\"kind\":\"dead_click\""), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn allowed_origins_are_per_project() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("UFSE_INGEST_KEY_CACHE_MS", "0")]);
    let out = ufse(dir.path(), &["projects", "origins", "default", "https://shop.example.com"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ok = server.post(&shop_batch("o1"), &[("Origin", "https://shop.example.com")]);
    assert_eq!(ok.status, 202);
    let r = server.post(&shop_batch("o2"), &[("Origin", "https://evil.example.net")]);
    assert_eq!((r.status, r.reason()), (403, "origin_not_allowed".into()));
    // Requests without an Origin (servers, curl) are not browsers: the key decides.
    assert_eq!(server.post(&shop_batch("o3"), &[]).status, 202);
    let bad = ufse(dir.path(), &["projects", "origins", "default", "shop.example.com"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid origin"));
    let none = ufse(dir.path(), &["projects", "origins", "nope", "*"]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("no project named `nope`"));
}

#[test]
fn sigterm_stores_everything_acknowledged_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    for i in 0..20 {
        assert_eq!(server.post(&shop_batch(&format!("d{i}")), &[]).status, 202);
    }
    // SIGTERM right after the last acknowledgement: everything is stored before exit.
    assert_eq!(server.terminate(), Some(0));
    let incidents = json_lines(dir.path(), &["incidents", "list", "--limit", "1000"]);
    assert_eq!(incidents.len(), 60, "3 incidents in each of 20 sessions");
}

#[test]
fn a_sigterm_right_after_start_still_drains_and_exits_0() {
    // The signal handlers exist before the server says it listens: a
    // SIGTERM at once used to find none, now and then, and kill the process.
    for _ in 0..30 {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Server::start(dir.path(), &[]).terminate(), Some(0));
    }
}
