//! kill -9 in the middle of a stream of acknowledged batches: after a
//! restart no acknowledged event is lost, none is stored twice, and the
//! incidents are exactly those of an uninterrupted run (`ufse detect`).

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use util::*;

const T0: i64 = 1_732_750_000_000;
const SESSIONS: usize = 40;
/// Generous reorder bound so a slow restart never makes resent events late.
const ENV: &[(&str, &str)] =
    &[("UFSE_SESSIONIZER_REORDER_MS", "30000"), ("UFSE_PROCESSOR_SNAPSHOT_INTERVAL_MS", "50")];

/// One batch of the workload: its session, its events' seqs, its body.
type Sent = (String, Vec<u64>, Vec<u8>);

/// Deterministic traffic: per session, normal clicks with reactions and
/// some rage, dead and error clicks; batches of up to 10 events, dealt
/// round-robin across sessions. Returns (sid, seqs, body) per batch.
fn workload() -> Vec<Sent> {
    let mut per_session: Vec<Vec<Sent>> = Vec::new();
    for i in 0..SESSIONS {
        let sid = format!("c{i:02}");
        let mut t = T0 + i as i64 * 7;
        let mut seq = 0;
        let mut evs: Vec<Value> = Vec::new();
        let mut push = |evs: &mut Vec<Value>, mut e: Value, at: i64| {
            seq += 1;
            e["seq"] = json!(seq);
            e["ts"] = json!(at);
            evs.push(e);
        };
        push(&mut evs, json!({"t":"nav","url":format!("https://shop.example.com/p/{i}"),"nav":"load"}), t);
        for step in 0..30 {
            let sel = format!("button#b{}", step % 4);
            let click = json!({"t":"click","x":100 + step * 40,"y":200,"sel":sel,"el":{"tag":"button"}});
            match (i + step) % 9 {
                0 => {
                    for k in 0..4 {
                        push(&mut evs, click.clone(), t + k * 150);
                    }
                    push(&mut evs, json!({"t":"mutation","n":1}), t + 700);
                }
                3 => {
                    push(&mut evs, click.clone(), t);
                    t += 16_000;
                }
                6 => {
                    push(&mut evs, click.clone(), t);
                    push(&mut evs, json!({"t":"mutation","n":1}), t + 20);
                    push(&mut evs, json!({"t":"error","msg":"boom","kind":"error"}), t + 300);
                }
                _ => {
                    push(&mut evs, click.clone(), t);
                    push(&mut evs, json!({"t":"mutation","n":3}), t + 50);
                }
            }
            t += 2_000;
        }
        push(&mut evs, json!({"t":"custom","name":"bye"}), t + 120_000);
        per_session.push(
            evs.chunks(10)
                .map(|c| {
                    let seqs = c.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
                    (sid.clone(), seqs, batch(&sid, c.to_vec()))
                })
                .collect(),
        );
    }
    let mut out = Vec::new();
    let longest = per_session.iter().map(Vec::len).max().unwrap();
    for k in 0..longest {
        for s in &per_session {
            if let Some(b) = s.get(k) {
                out.push(b.clone());
            }
        }
    }
    out
}

fn signal_key(v: &Value) -> String {
    let mut v = v.clone();
    // Only the detect contract's eight keys are compared.
    let keys = ["kind", "sid", "ts", "end_ts", "count", "evidence", "sel", "url"];
    v.as_object_mut().unwrap().retain(|k, _| keys.contains(&k.as_str()));
    v.to_string()
}

fn reference(batches: &[Sent]) -> BTreeSet<String> {
    let mut cmd = Command::new(ufse_bin());
    cmd.args(["detect", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped());
    for (k, v) in ENV {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for (_, _, b) in batches {
        stdin.write_all(b).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| signal_key(&serde_json::from_str(l).unwrap()))
        .collect()
}

#[test]
fn kill_9_mid_stream_loses_nothing_acknowledged_and_stores_nothing_twice() {
    let batches = workload();
    let expected = reference(&batches);
    assert!(expected.len() > 100, "the workload has plenty of signals: {}", expected.len());
    let dir = tempfile::tempdir().unwrap();

    // First run: stream batches until about a third are acknowledged, then kill -9.
    let server = Server::start(dir.path(), ENV);
    let key = server.key().to_owned();
    let addr = server.addr.clone();
    let acked = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_unacked = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            for (i, (_, _, body)) in batches.iter().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    return i;
                }
                let ok = std::panic::catch_unwind(|| {
                    request(&addr, "POST", "/v1/batch", &[("X-Ufse-Key", &key)], body).status == 202
                })
                .unwrap_or(false);
                if !ok {
                    return i;
                }
                acked.store(i + 1, Ordering::SeqCst);
            }
            batches.len()
        });
        wait_for("a third acknowledged", Duration::from_secs(60), || {
            (acked.load(Ordering::SeqCst) >= batches.len() / 3).then_some(())
        });
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        sender.join().unwrap()
    });
    let acked_before = acked.load(Ordering::SeqCst);
    assert!(acked_before < batches.len(), "the kill landed mid-stream");

    // Restart on the same data; the SDK resends what was not acknowledged,
    // plus (as after a lost response) a few batches that were.
    let server = Server::start(dir.path(), ENV);
    assert!(server.key.is_none(), "the default project already exists");
    let resend_from = first_unacked.min(acked_before).saturating_sub(5);
    for (_, _, body) in &batches[resend_from..] {
        let r = request(&server.addr, "POST", "/v1/batch", &[("X-Ufse-Key", &key)], body);
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    }

    let stored = wait_for("all incidents", Duration::from_secs(60), || {
        let got: BTreeSet<String> = json_lines(dir.path(), &["incidents", "list", "--limit", "100000"])
            .iter()
            .map(signal_key)
            .collect();
        (got.len() >= expected.len()).then_some(got)
    });
    assert_eq!(stored, expected, "incidents equal an uninterrupted run");
    // Incidents are stored once each: the list has no repeats.
    let all = json_lines(dir.path(), &["incidents", "list", "--limit", "100000"]);
    assert_eq!(all.len(), expected.len());

    // Every acknowledged event is stored exactly once.
    let mut sent: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (sid, seqs, _) in &batches {
        sent.entry(sid).or_default().extend(seqs);
    }
    for (sid, seqs) in &sent {
        let lines = json_lines(dir.path(), &["sessions", "show", sid]);
        let mut got: Vec<u64> = lines
            .iter()
            .filter(|l| l["type"] == "event")
            .map(|l| l["event"]["seq"].as_u64().unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(&got, seqs, "session {sid}");
    }
    assert_eq!(server.terminate(), Some(0));
}
