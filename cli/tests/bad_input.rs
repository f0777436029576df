//! The bad-input battery: each case gets its documented answer, and the
//! server keeps serving and keeps what it already accepted.

mod util;

use std::time::Duration;

use serde_json::json;
use util::*;

const T0: i64 = 1_732_750_000_000;

fn good(sid: &str) -> Vec<u8> {
    batch(sid, vec![json!({"t":"nav","ts":T0,"seq":1,"url":"https://a.io/","nav":"load"})])
}

#[test]
fn every_bad_request_gets_its_own_answer_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("UFSE_INGEST_KEY_CACHE_MS", "0")]);
    assert_eq!(server.post(&good("before"), &[]).status, 202);
    let key = server.key().to_owned();

    let mut truncated_gzip = gzip(&good("t"));
    truncated_gzip.truncate(truncated_gzip.len() - 10);
    let bomb = gzip(&vec![b' '; 40 << 20]);
    let too_many: Vec<_> = (1..=2001).map(|i| json!({"t":"select","ts":T0,"seq":i})).collect();
    let big_plain = vec![b' '; (1 << 20) + 1];
    // (case, body, headers, status, reason)
    type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("invalid json", b"{\"v\":1,".to_vec(), vec![], 400, "invalid_json"),
        ("empty body", vec![], vec![], 400, "empty_body"),
        ("array", b"[]".to_vec(), vec![], 400, "not_an_object"),
        ("truncated gzip", truncated_gzip, vec![], 400, "invalid_gzip"),
        ("gzip header on plain", good("x"), vec![("Content-Encoding", "gzip")], 400, "invalid_gzip"),
        ("gzip bomb", bomb, vec![], 413, "decompressed_too_large"),
        ("over 1 MiB compressed", big_plain, vec![], 413, "body_too_large"),
        ("2,001 events", batch("s", too_many), vec![], 413, "too_many_events"),
        ("brotli", good("x"), vec![("Content-Encoding", "br")], 415, "unsupported_encoding"),
        ("version 2", br#"{"v":2,"sid":"s","events":[]}"#.to_vec(), vec![], 400, "unsupported_version"),
        ("no sid", br#"{"v":1,"events":[]}"#.to_vec(), vec![], 400, "missing_sid"),
        ("bad sid", br#"{"v":1,"sid":"a b\u0000","events":[]}"#.to_vec(), vec![], 400, "bad_sid"),
        (
            "invalid utf-8",
            b"{\"v\":1,\"sid\":\"s\",\"events\":[{\"t\":\"x\xff\"}]}".to_vec(),
            vec![],
            400,
            "invalid_json",
        ),
        (
            "raw control char",
            b"{\"v\":1,\"sid\":\"s\x01\",\"events\":[]}".to_vec(),
            vec![],
            400,
            "invalid_json",
        ),
        (
            "huge sent_at",
            br#"{"v":1,"sid":"s","sent_at":1e300,"events":[]}"#.to_vec(),
            vec![],
            400,
            "bad_sent_at",
        ),
        ("events not array", br#"{"v":1,"sid":"s","events":"no"}"#.to_vec(), vec![], 400, "bad_events"),
    ];
    for (name, body, headers, status, reason) in cases {
        let r = server.post(&body, &headers);
        assert_eq!((r.status, r.reason()), (status, reason.to_owned()), "case {name}");
        assert!(!r.json()["detail"].as_str().unwrap().is_empty(), "case {name} explains itself");
    }

    let r = server.request("POST", "/v1/batch", &[], &good("x"));
    assert_eq!((r.status, r.reason()), (401, "missing_key".into()));
    let r = server.request("POST", "/v1/batch", &[("X-Ufse-Key", "uk_wrong")], &good("x"));
    assert_eq!((r.status, r.reason()), (401, "unknown_key".into()));
    let r = server.request("GET", "/v1/batch", &[("X-Ufse-Key", &key)], b"");
    assert_eq!((r.status, r.reason()), (405, "method_not_allowed".into()));
    let r = server.request("POST", "/v2/batch", &[("X-Ufse-Key", &key)], &good("x"));
    assert_eq!((r.status, r.reason()), (404, "not_found".into()));

    // Field-level problems drop single events, each with one reason; the rest is accepted.
    let r = server.post(
        &batch(
            "partial",
            vec![
                json!({"t":"nav","ts":T0,"seq":1,"url":"https://a.io/","nav":"load"}),
                json!({"t":"click","ts":T0,"seq":-1,"x":1,"y":1,"sel":"b","el":{}}),
                json!({"t":"click","ts":T0,"seq":3,"x":"1","y":1,"sel":"b","el":{}}),
                json!({"t":"click","ts":-5,"seq":4,"x":1,"y":1,"sel":"b","el":{}}),
                json!({"t":"click","ts":T0,"seq":18446744073709551615u64,"x":1,"y":1,"sel":"b","el":{}}),
                json!({"t":"net","ts":T0,"seq":6,"method":"GET","status":200,"dur":5}),
                json!({"t":"error","ts":T0,"seq":7,"msg":"x".repeat(20_000),"kind":"error"}),
                json!({"t":"from_the_future","ts":T0,"seq":8,"anything":{"goes":[1]}}),
            ],
        ),
        &[],
    );
    assert_eq!(r.status, 202);
    assert_eq!(
        r.json(),
        json!({
            "accepted": 3,
            "dropped": [
                {"index":1,"seq":null,"reason":"bad_seq"},
                {"index":2,"seq":3,"reason":"bad_field","field":"x"},
                {"index":3,"seq":4,"reason":"bad_ts"},
                {"index":4,"seq":null,"reason":"bad_seq"},
                {"index":5,"seq":6,"reason":"missing_field","field":"url"}
            ],
            "truncated": [{"index":6,"field":"msg"}]
        })
    );

    // Still serving, and what was accepted before is all there.
    assert_eq!(server.post(&good("after"), &[]).status, 202);
    for sid in ["before", "after", "partial"] {
        wait_for(sid, Duration::from_secs(30), || {
            let out = ufse(dir.path(), &["sessions", "show", sid, "--json"]);
            out.status.success().then_some(())
        });
    }
    let partial = json_lines(dir.path(), &["sessions", "show", "partial"]);
    let seqs: Vec<u64> = partial
        .iter()
        .filter(|l| l["type"] == "event")
        .map(|l| l["event"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 7, 8]);
    let unknown = partial.iter().find(|l| l["event"]["seq"] == 8).unwrap();
    assert_eq!(unknown["event"]["anything"], json!({"goes":[1]}), "unknown kinds pass through");
    let m = String::from_utf8(server.request("GET", "/metrics", &[], b"").body).unwrap();
    for reason in ["invalid_json", "invalid_gzip", "decompressed_too_large", "too_many_events", "missing_key"]
    {
        assert!(
            m.contains(&format!("ufse_ingest_rejected_total{{reason=\"{reason}\"}}")),
            "{reason} counted"
        );
    }
    assert!(m.contains("ufse_ingest_events_dropped_total{reason=\"bad_seq\"} 2"), "{m}");
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[("UFSE_INGEST_CLIENT_EVENTS_PER_SEC", "1"), ("UFSE_INGEST_CLIENT_BURST_EVENTS", "2")],
    );
    assert_eq!(server.post(&good("a"), &[]).status, 202);
    assert_eq!(server.post(&good("b"), &[]).status, 202);
    // From a page on another origin, as the SDK sends.
    let r = server.post(&good("c"), &[("Origin", "https://shop.example.com")]);
    assert_eq!((r.status, r.reason()), (429, "rate_limited_client".into()));
    assert_eq!(r.header("retry-after"), Some("1"));
    // Retry-After is not CORS-safelisted: the page's script reads it only if exposed.
    assert_eq!(r.header("access-control-allow-origin"), Some("https://shop.example.com"));
    assert_eq!(r.header("access-control-expose-headers"), Some("retry-after"));
}

#[test]
fn a_full_log_queue_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    // A hand-off queue of one batch: concurrent senders overflow it.
    let server = Server::start(dir.path(), &[("UFSE_LOG_QUEUE_RECORDS", "1")]);
    let addr = server.addr.clone();
    let key = server.key().to_owned();
    let statuses: Vec<(u16, Option<String>, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let (addr, key) = (&addr, &key);
                s.spawn(move || {
                    let r =
                        request(addr, "POST", "/v1/batch", &[("X-Ufse-Key", key)], &good(&format!("q{i}")));
                    let reason = if r.status == 202 { String::new() } else { r.reason() };
                    (r.status, r.header("retry-after").map(str::to_owned), reason)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().any(|s| s.0 == 202));
    assert!(statuses.iter().any(|s| s.0 == 503), "64 concurrent batches overflow a queue of one");
    for (status, retry, reason) in &statuses {
        if *status != 202 {
            assert_eq!((*status, retry.as_deref(), reason.as_str()), (503, Some("1"), "overloaded"));
        }
    }
}
