//! The cold path through the real `ufse` binary: SDK batches in over HTTP,
//! tickets out in local fakes of Linear and Jira (crate `ufse-fakes`, which
//! check every GraphQL document against Linear's public schema, every Jira
//! field and ADF document), explanations from a fake OpenAI, webhooks back.
//!
//! The Linear tests read Linear's schema from `../shared/fixtures`, outside
//! this repository; where it is absent (a clone without the project's
//! shared fixtures) they say SKIPPED. The PostgreSQL test needs
//! `UFSE_TEST_POSTGRES_URL`, which `scripts/test.sh` sets.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use ufse_fakes::{Jira as FakeJira, Linear as FakeLinear, Model, ModelAnswer};
use ufse_ticket_generator::sign;
use util::*;

const TEAM: &str = "5a1e0000-0000-4000-8000-00000000aaaa";
const LINEAR_KEY: &str = "lin_api_cold_path_test";
const HOOK_SECRET: &str = "lin_wh_test_secret";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn fake_linear() -> Option<FakeLinear> {
    let Some(schema) = ufse_fakes::linear_schema_path() else {
        let _ = writeln!(std::io::stderr(), "SKIPPED: Linear's schema (../shared/fixtures) is not here");
        return None;
    };
    Some(FakeLinear::start(LINEAR_KEY, TEAM, schema, "127.0.0.1:0").unwrap())
}

fn linear_env(fake: &FakeLinear) -> Vec<(String, String)> {
    vec![
        ("UFSE_LINEAR_API_KEY".into(), LINEAR_KEY.into()),
        ("UFSE_LINEAR_TEAM_ID".into(), TEAM.into()),
        ("UFSE_LINEAR_URL".into(), fake.url()),
        ("UFSE_LINEAR_WEBHOOK_SECRET".into(), HOOK_SECRET.into()),
        ("UFSE_COLD_PATH_POLL_INTERVAL_MS".into(), "50".into()),
        ("UFSE_COLD_PATH_BACKOFF_BASE_MS".into(), "100".into()),
    ]
}

/// A server explaining with the fake OpenAI `model`, and no tracker.
fn ai_env(model: &Model) -> Vec<(String, String)> {
    vec![
        ("UFSE_AI_PROVIDER".into(), "openai".into()),
        ("UFSE_AI_URL".into(), model.url()),
        ("UFSE_AI_API_KEY".into(), "sk-test-key".into()),
        ("UFSE_COLD_PATH_POLL_INTERVAL_MS".into(), "50".into()),
    ]
}

fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A session in which the checkout button throws: its clicks, the error
/// (with a customer's email and a bearer token in its message), on a page
/// whose query string holds a coupon code, with a heartbeat a minute later
/// that closes every window. Times are now's, so the issue is fresh.
fn broken_checkout(sid: &str, t0: i64, page: &str) -> Vec<u8> {
    let click = |seq: u64, ts: i64| {
        json!({"t":"click","ts":ts,"seq":seq,"x":400,"y":100,"sel":"div.cart > button#checkout",
               "el":{"tag":"button"},"txt":"Checkout"})
    };
    batch(
        sid,
        vec![
            json!({"t":"nav","ts":t0,"seq":1,"url":format!("https://shop.example.com{page}?coupon=SECRETCOUPON"),"nav":"load"}),
            click(2, t0 + 100),
            click(3, t0 + 300),
            click(4, t0 + 500),
            json!({"t":"error","ts":t0 + 700,"seq":5,"kind":"error",
                   "msg":"TypeError: cart is undefined for ann.lee@example.com (Bearer sk-live-abcdef123456)",
                   "stack":"TypeError: cart is undefined\n    at checkout (https://shop.example.com/app.js?v=SECRETBUILD:10:5)"}),
            json!({"t":"custom","ts":t0 + 60_000,"seq":6,"name":"heartbeat"}),
        ],
    )
}

/// The one issue of `kind`, once it exists.
fn issue_of(dir: &Path, env: &[(&str, &str)], kind: &str) -> Value {
    wait_for(&format!("a {kind} issue"), Duration::from_secs(30), || {
        json_values(dir, env, &["issues", "list", "--kind", kind]).into_iter().next()
    })
}

fn show(dir: &Path, env: &[(&str, &str)], fp: &str) -> Value {
    json_values(dir, env, &["issues", "show", fp]).remove(0)
}

fn post_webhook(server: &Server, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    server.request("POST", path, headers, body)
}

#[test]
fn a_broken_button_becomes_one_explained_linear_ticket_kept_in_sync() {
    let Some(linear) = fake_linear() else { return };
    // Linear answers the first two calls with its rate limit (HTTP 400, RATELIMITED, a reset in 1 s).
    linear.fail_next(FakeLinear::rate_limited(Duration::from_secs(1)), 2);
    let dir = tempfile::tempdir().unwrap();
    let env = linear_env(&linear);
    let env = env_refs(&env);
    let server = Server::start(dir.path(), &env);
    let r = server.post(
        &gzip(&broken_checkout("shop-1", now() - 120_000, "/cart/42")),
        &[("Content-Encoding", "gzip")],
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));

    let issue = issue_of(dir.path(), &env, "error_click");
    let fp = issue["fingerprint"].as_str().unwrap().to_owned();
    let ticket = wait_for("the Linear ticket", Duration::from_secs(30), || {
        json_values(dir.path(), &env, &["tickets", "list"]).into_iter().next()
    });
    assert_eq!((ticket["provider"].as_str(), ticket["key"].as_str()), (Some("linear"), Some("UFS-1")));
    assert_eq!(
        ticket["remote_id"].as_str().unwrap(),
        ufse_ticket_generator::linear_issue_id("default", &fp, 0)
    );
    // One ticket, though Linear refused twice first: the worker backed off and retried.
    let filed = linear.issues();
    assert_eq!(filed.len(), 1, "only the error click qualifies, once");
    let t = &filed[0];
    assert!(t.title.contains("Checkout") && t.title.contains("TypeError"), "{}", t.title);
    assert_eq!(t.priority, 3, "a medium issue");
    for part in [
        "### Steps to reproduce",
        "1. Open https://shop.example.com/cart/42",
        "3 times within 400 ms",
        "### Evidence",
        "ufse replay shop-1 --project default --explain",
        &fp,
    ] {
        assert!(t.description.contains(part), "`{part}` missing from:\n{}", t.description);
    }
    for secret in ["SECRETCOUPON", "SECRETBUILD", "ann.lee@example.com", "sk-live-abcdef123456"] {
        assert!(!t.description.contains(secret) && !t.title.contains(secret), "{secret} left the machine");
    }
    assert!(
        linear.invalid().is_empty(),
        "every document valid against Linear's schema: {:?}",
        linear.invalid()
    );
    let d = show(dir.path(), &env, &fp[..10]);
    assert_eq!(d["issue"]["status"], "ticketed");
    let last = d["audit"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["to"].as_str(), last["actor"].as_str()), (Some("ticketed"), Some("worker")));
    assert_eq!(d["explanation"]["interpreter"], "offline");
    assert_eq!(d["evidence"]["error"]["top_frame"], "at checkout (https://shop.example.com/app.js:10:5)");
    assert!(d["evidence"]["from_timeline"].as_bool().unwrap(), "the steps come from the session's events");

    // Webhooks: a bad signature and a stale one change nothing; a signed one resolves the issue.
    let mut done = linear.issues()[0].clone();
    done.state = "completed".into();
    let body = linear.webhook_body(&done, now());
    let path = "/v1/webhooks/linear";
    let r = post_webhook(&server, path, &[("Linear-Signature", &sign("not the secret", &body))], &body);
    assert_eq!((r.status, r.reason()), (401, "bad_signature".to_owned()));
    let stale = linear.webhook_body(&done, now() - 120_000);
    let r = post_webhook(&server, path, &[("Linear-Signature", &sign(HOOK_SECRET, &stale))], &stale);
    assert_eq!((r.status, r.reason()), (401, "stale_webhook".to_owned()));
    assert_eq!(show(dir.path(), &env, &fp)["issue"]["status"], "ticketed", "nothing changed");
    let r = post_webhook(&server, path, &[("Linear-Signature", &sign(HOOK_SECRET, &body))], &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let d = show(dir.path(), &env, &fp);
    assert_eq!(d["issue"]["status"], "resolved");
    assert_eq!(d["audit"].as_array().unwrap().last().unwrap()["actor"], "webhook");
    assert_eq!(d["tickets"][0]["remote_state"], "done");

    // It comes back: the issue regresses and its ticket is reopened, with a comment.
    let r = server.post(&gzip(&broken_checkout("shop-2", now(), "/cart/7")), &[("Content-Encoding", "gzip")]);
    assert_eq!(r.status, 202);
    wait_for("the ticket reopened", Duration::from_secs(30), || {
        let issues = linear.issues();
        (issues[0].state == "unstarted").then_some(())
    });
    let d = wait_for("the issue ticketed again", Duration::from_secs(30), || {
        let d = show(dir.path(), &env, &fp);
        (d["issue"]["status"] == "ticketed").then_some(d)
    });
    let moves: Vec<(String, String)> = d["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["to"].as_str().unwrap().to_owned(), a["actor"].as_str().unwrap().to_owned()))
        .collect();
    let moves: Vec<(&str, &str)> = moves.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        moves,
        [
            ("open", "rule"),
            ("ticketed", "worker"),
            ("resolved", "webhook"),
            ("regressed", "rule"),
            ("ticketed", "worker")
        ]
    );
    let issues = linear.issues();
    assert_eq!(issues.len(), 1, "reopened, not filed again");
    assert!(issues[0].comments.iter().any(|c| c.contains("Reopened by UFSE")), "{:?}", issues[0].comments);
    assert!(linear.invalid().is_empty(), "{:?}", linear.invalid());
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn a_worker_killed_between_the_remote_create_and_its_record_files_once() {
    let Some(linear) = fake_linear() else { return };
    linear.hold_creates(true);
    let dir = tempfile::tempdir().unwrap();
    let mut env = linear_env(&linear);
    env.push(("UFSE_COLD_PATH_LEASE_MS".into(), "1000".into()));
    let env = env_refs(&env);
    let server = Server::start(dir.path(), &env);
    let r = server.post(&gzip(&broken_checkout("kill-1", now() - 120_000, "/cart/42")), &[]);
    assert_eq!(r.status, 202);
    // Linear has the issue; its answer is held, and the process dies before it can record it.
    wait_for("the create to reach Linear", Duration::from_secs(30), || {
        (linear.issues().len() == 1).then_some(())
    });
    server.kill9();
    linear.hold_creates(false);
    assert!(json_values(dir.path(), &env, &["tickets", "list"]).is_empty(), "nothing was recorded");

    let again = Server::start(dir.path(), &env);
    let ticket = wait_for("the ticket recorded after the restart", Duration::from_secs(30), || {
        json_values(dir.path(), &env, &["tickets", "list"]).into_iter().next()
    });
    assert_eq!(ticket["key"], "UFS-1");
    assert_eq!(linear.issues().len(), 1, "exactly one remote ticket");
    assert!(linear.invalid().is_empty(), "{:?}", linear.invalid());
    assert_eq!(again.terminate(), Some(0));
}

#[test]
fn jira_gets_one_adf_ticket_and_its_signed_webhook_moves_the_issue() {
    let jira = FakeJira::start("ufse@example.com", "jira-token", "SHOP", "127.0.0.1:0").unwrap();
    jira.fail_next(FakeJira::rate_limited(1), 1);
    let dir = tempfile::tempdir().unwrap();
    let url = jira.url();
    let env = [
        ("UFSE_JIRA_URL", url.as_str()),
        ("UFSE_JIRA_EMAIL", "ufse@example.com"),
        ("UFSE_JIRA_API_TOKEN", "jira-token"),
        ("UFSE_JIRA_PROJECT_KEY", "SHOP"),
        ("UFSE_JIRA_WEBHOOK_SECRET", "jira-hook"),
        ("UFSE_COLD_PATH_POLL_INTERVAL_MS", "50"),
    ];
    let server = Server::start(dir.path(), &env);
    assert_eq!(server.post(&broken_checkout("jira-1", now() - 120_000, "/cart/42"), &[]).status, 202);
    let fp = issue_of(dir.path(), &env, "error_click")["fingerprint"].as_str().unwrap().to_owned();
    let ticket = wait_for("the Jira ticket", Duration::from_secs(30), || {
        json_values(dir.path(), &env, &["tickets", "list", "--provider", "jira"]).into_iter().next()
    });
    assert_eq!(ticket["key"], "SHOP-1");
    let issues = jira.issues();
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0].labels.contains(&"ufse".to_owned()) && issues[0].labels.contains(&format!("ufse-{fp}"))
    );
    let text = issues[0].description.to_string();
    assert!(
        text.contains("ufse replay jira-1 --project default --explain") && !text.contains("SECRETCOUPON")
    );
    assert!(jira.invalid().is_empty(), "fields and ADF as Jira wants them: {:?}", jira.invalid());

    let mut done = issues[0].clone();
    done.category = "done".into();
    done.resolution = Some("Won't Do".into());
    let body = jira.webhook_body(&done, now());
    let sig = |secret: &str, b: &[u8]| format!("sha256={}", sign(secret, b));
    let path = "/v1/webhooks/jira";
    // What anyone may post: a body over 1 MiB is refused unread, an unknown provider by name.
    let huge = vec![b' '; (1 << 20) + 1];
    let r = post_webhook(&server, path, &[("X-Hub-Signature", &sig("jira-hook", &huge))], &huge);
    assert_eq!((r.status, r.reason()), (413, "body_too_large".to_owned()));
    let r = post_webhook(&server, "/v1/webhooks/github", &[], &body);
    assert_eq!((r.status, r.reason()), (404, "not_found".to_owned()));
    let r = post_webhook(&server, path, &[("X-Hub-Signature", &sig("wrong", &body))], &body);
    assert_eq!((r.status, r.reason()), (401, "bad_signature".to_owned()));
    let r = post_webhook(&server, path, &[("X-Hub-Signature", &sign("jira-hook", &body))], &body);
    assert_eq!(r.status, 401, "the sha256= prefix is part of the scheme");
    let old = jira.webhook_body(&done, now() - 2 * 3_600_000);
    let r = post_webhook(&server, path, &[("X-Hub-Signature", &sig("jira-hook", &old))], &old);
    assert_eq!((r.status, r.reason()), (401, "stale_webhook".to_owned()));
    assert_eq!(show(dir.path(), &env, &fp)["issue"]["status"], "ticketed");
    let r = post_webhook(&server, path, &[("X-Hub-Signature", &sig("jira-hook", &body))], &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(show(dir.path(), &env, &fp)["issue"]["status"], "ignored", "won't do is not a fix");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn a_spent_budget_degrades_to_offline_and_no_secret_reaches_the_model() {
    let model = Model::openai("sk-test-key", "127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut env = ai_env(&model);
    env.push(("UFSE_AI_CALLS_PER_DAY".into(), "1".into()));
    let env = env_refs(&env);
    let server = Server::start(dir.path(), &env);
    let t0 = now() - 120_000;
    assert_eq!(server.post(&broken_checkout("ai-1", t0, "/cart/42"), &[]).status, 202);
    let first = issue_of(dir.path(), &env, "error_click")["fingerprint"].as_str().unwrap().to_owned();
    let x = wait_for("the AI's explanation", Duration::from_secs(30), || {
        let d = show(dir.path(), &env, &first);
        (!d["explanation"].is_null()).then(|| d["explanation"].clone())
    });
    assert_eq!((x["interpreter"].as_str(), x["fallback"].as_str()), (Some("openai"), None));
    assert!(x["result"].as_str().unwrap().contains("AI:"), "{x}");

    // A second issue the same day: the budget (one call) is spent.
    let mut other = broken_checkout("ai-2", t0, "/account");
    other = String::from_utf8(other)
        .unwrap()
        .replace("button#checkout", "button#save")
        .replace("Checkout", "Save")
        .into_bytes();
    assert_eq!(server.post(&other, &[]).status, 202);
    let x = wait_for("the second explanation", Duration::from_secs(30), || {
        let issues = json_values(dir.path(), &env, &["issues", "list", "--kind", "error_click"]);
        let fp =
            issues.iter().find(|i| i["fingerprint"] != first.as_str())?["fingerprint"].as_str()?.to_owned();
        let d = show(dir.path(), &env, &fp);
        (!d["explanation"].is_null()).then(|| d["explanation"].clone())
    });
    assert_eq!(x["interpreter"], "offline");
    assert!(x["fallback"].as_str().unwrap().contains("budget"), "{x}");

    let requests = model.requests();
    assert_eq!(requests.len(), 1, "one call, within the budget");
    let sent = requests[0].to_string();
    assert!(sent.contains("TypeError: cart is undefined"), "the evidence went out");
    for secret in
        ["SECRETCOUPON", "SECRETBUILD", "ann.lee@example.com", "sk-live-abcdef123456", "sk-test-key"]
    {
        assert!(!sent.contains(secret), "{secret} reached the model");
    }
    assert!(model.invalid().is_empty(), "{:?}", model.invalid());
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn an_invalid_answer_is_asked_once_more_then_the_offline_one_is_used_saying_why() {
    let model = Model::openai("sk-test-key", "127.0.0.1:0").unwrap();
    model.script(&[ModelAnswer::NotJson, ModelAnswer::WrongShape]);
    let dir = tempfile::tempdir().unwrap();
    let env = ai_env(&model);
    let env = env_refs(&env);
    let server = Server::start(dir.path(), &env);
    assert_eq!(server.post(&broken_checkout("bad-ai", now() - 120_000, "/cart/42"), &[]).status, 202);
    let fp = issue_of(dir.path(), &env, "error_click")["fingerprint"].as_str().unwrap().to_owned();
    let x = wait_for("the explanation", Duration::from_secs(30), || {
        let d = show(dir.path(), &env, &fp);
        (!d["explanation"].is_null()).then(|| d["explanation"].clone())
    });
    assert_eq!(x["interpreter"], "offline");
    assert!(x["fallback"].as_str().unwrap().contains("outside the schema twice"), "{x}");
    assert_eq!(model.requests().len(), 2, "asked once more, not more");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn with_the_approval_gate_tickets_wait_for_a_person_and_dead_jobs_can_be_retried() {
    let Some(linear) = fake_linear() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut env = linear_env(&linear);
    env.push(("UFSE_COLD_PATH_APPROVAL".into(), "true".into()));
    env.push(("UFSE_COLD_PATH_MAX_ATTEMPTS".into(), "2".into()));
    // A team Linear does not know: filing fails for good.
    env.iter_mut().find(|(k, _)| k == "UFSE_LINEAR_TEAM_ID").unwrap().1 =
        "5a1e0000-0000-4000-8000-00000000dead".into();
    let envs = env_refs(&env);
    let server = Server::start(dir.path(), &envs);
    assert_eq!(server.post(&broken_checkout("gate-1", now() - 120_000, "/cart/42"), &[]).status, 202);
    let pending = wait_for("a pending ticket", Duration::from_secs(30), || {
        json_values(dir.path(), &envs, &["tickets", "pending"]).into_iter().next()
    });
    assert_eq!(pending["state"], "pending");
    let fp = pending["fingerprint"].as_str().unwrap().to_owned();
    assert!(linear.issues().is_empty(), "nothing filed before approval");
    let approved = json_values(dir.path(), &envs, &["tickets", "approve", &fp[..8]]);
    assert_eq!(
        (approved[0]["approved"].as_bool(), approved[0]["trackers"][0].as_str()),
        (Some(true), Some("linear"))
    );
    let dead = wait_for("the filing to fail for good", Duration::from_secs(30), || {
        json_values(dir.path(), &envs, &["jobs", "list", "--state", "dead"]).into_iter().next()
    });
    assert_eq!(dead["kind"], "file");
    assert!(dead["last_error"].as_str().unwrap().contains("Team"), "{dead}");
    assert_eq!(server.terminate(), Some(0));

    // The team fixed, the dead job goes again.
    env.iter_mut().find(|(k, _)| k == "UFSE_LINEAR_TEAM_ID").unwrap().1 = TEAM.into();
    let envs = env_refs(&env);
    let server = Server::start(dir.path(), &envs);
    let id = dead["id"].as_i64().unwrap().to_string();
    let retried = json_values(dir.path(), &envs, &["jobs", "retry", &id]);
    assert_eq!((retried[0]["state"].as_str(), retried[0]["attempts"].as_u64()), (Some("queued"), Some(0)));
    wait_for("the ticket", Duration::from_secs(30), || (linear.issues().len() == 1).then_some(()));
    let d = wait_for("the issue ticketed", Duration::from_secs(30), || {
        let d = show(dir.path(), &envs, &fp);
        (d["issue"]["status"] == "ticketed").then_some(d)
    });
    assert_eq!(d["requests"][0]["decided_by"], "user");
    assert_eq!(d["requests"][0]["state"], "filed");
    assert!(json_values(dir.path(), &envs, &["jobs", "list", "--state", "dead"]).is_empty());
    assert!(linear.invalid().is_empty(), "{:?}", linear.invalid());
    assert_eq!(server.terminate(), Some(0));
}

/// A running `ufse work`.
struct Worker(Child);

impl Worker {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Worker {
        let mut child = Command::new(ufse_bin())
            .args(["work", "--data-dir"])
            .arg(dir)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = lines.any(|l| l.is_ok_and(|l| l == "cold path working"));
        let worker = Worker(child);
        assert!(started, "ufse work did not start");
        worker
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn three_workers_on_postgres_file_a_thousand_tickets_once_each_though_one_is_killed() {
    let Ok(pg) = std::env::var("UFSE_TEST_POSTGRES_URL") else {
        return skip("UFSE_TEST_POSTGRES_URL");
    };
    let Some(linear) = fake_linear() else { return };
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let schema = format!("ufse_cold_test_{}_{nanos}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let mut env = linear_env(&linear);
    env.extend([
        ("UFSE_POSTGRES_URL".to_owned(), pg.clone()),
        ("UFSE_POSTGRES_SCHEMA".to_owned(), schema.clone()),
        ("UFSE_COLD_PATH_TICKETS_PER_HOUR".to_owned(), "100000".to_owned()),
        ("UFSE_COLD_PATH_LEASE_MS".to_owned(), "1000".to_owned()),
        ("UFSE_COLD_PATH_CONCURRENCY".to_owned(), "8".to_owned()),
    ]);
    // The edge and the processor only: the workers are the three below.
    let mut serve_env = env.clone();
    serve_env.push(("UFSE_COLD_PATH_CONCURRENCY".into(), "0".into()));
    let server = Server::start(dir.path(), &env_refs(&serve_env));
    let t0 = now() - 120_000;
    for i in 0..1000 {
        let r = server.post(&broken_checkout(&format!("pg-{i}"), t0, &format!("/p{i}/cart")), &[]);
        assert_eq!(r.status, 202);
    }
    let envs = env_refs(&env);
    wait_for("1000 issues", Duration::from_secs(120), || {
        let n =
            json_values(dir.path(), &envs, &["issues", "list", "--kind", "error_click", "--limit", "5000"])
                .len();
        (n == 1000).then_some(())
    });
    let mut workers: Vec<Option<Worker>> = (0..3).map(|_| Some(Worker::start(dir.path(), &envs))).collect();
    wait_for("a third of the tickets", Duration::from_secs(120), || {
        (linear.issues().len() >= 300).then_some(())
    });
    drop(workers[1].take()); // SIGKILL, mid-way, its claims in hand
    let tickets = wait_for("1000 tickets", Duration::from_secs(300), || {
        let t = json_values(dir.path(), &envs, &["tickets", "list", "--limit", "5000"]);
        (t.len() >= 1000).then_some(t)
    });
    assert_eq!(tickets.len(), 1000);
    let filed = linear.issues();
    assert_eq!(filed.len(), 1000, "exactly one remote ticket per issue");
    let mut ids: Vec<&str> = filed.iter().map(|i| i.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000, "none twice");
    assert!(json_values(dir.path(), &envs, &["jobs", "list", "--state", "dead"]).is_empty());
    assert!(linear.invalid().is_empty(), "{:?}", linear.invalid().first());
    drop(workers);
    assert_eq!(server.terminate(), Some(0));
    let _ = Command::new("psql")
        .args([pg.as_str(), "-qc", &format!("DROP SCHEMA \"{schema}\" CASCADE")])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .status();
}
