//! `ufse detect` golden tests: JSONL in, expected signals out, byte for
//! byte; each scenario also re-batched, interleaved across sessions and
//! replayed, with identical output (DESIGN.md section 5).

mod util;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use util::ufse_bin;

const SCENARIOS: &[&str] = &["rage_click", "dead_click", "error_click", "catalogue"];

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Runs `ufse detect -` on `input`; returns (exit code, stdout, stderr).
fn detect(input: &[u8]) -> (i32, String, String) {
    detect_with(&[], input)
}

/// Like [`detect`], with extra arguments (`--profile NAME`).
fn detect_with(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(ufse_bin())
        .arg("detect")
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn batches(input: &str) -> Vec<Value> {
    input.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Every event in a batch of its own.
fn rebatch(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .flat_map(|b| {
            b["events"].as_array().unwrap().iter().map(move |e| {
                let mut one = b.clone();
                one["events"] = Value::Array(vec![e.clone()]);
                one
            })
        })
        .collect()
}

/// Batches dealt round-robin across sessions, keeping each session's order.
fn interleave(lines: &[Value]) -> Vec<Value> {
    let mut per: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for b in lines {
        per.entry(b["sid"].as_str().unwrap().to_owned()).or_default().push(b.clone());
    }
    let mut queues: Vec<_> = per.into_values().map(|v| v.into_iter()).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for q in queues.iter_mut().rev() {
            out.extend(q.next());
        }
        if out.len() == before {
            return out;
        }
    }
}

fn jsonl(lines: &[Value]) -> Vec<u8> {
    lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect()
}

#[test]
fn each_rule_matches_its_golden_output_however_the_input_is_cut() {
    for name in SCENARIOS {
        let input = std::fs::read_to_string(golden(&format!("{name}.input.jsonl"))).unwrap();
        let expected = std::fs::read_to_string(golden(&format!("{name}.expected.jsonl"))).unwrap();
        assert!(!expected.is_empty());
        let lines = batches(&input);
        let replayed = [lines.clone(), lines.clone()].concat();
        for (how, variant) in [
            ("as written", lines.clone()),
            ("re-batched", rebatch(&lines)),
            ("re-batched and interleaved", interleave(&rebatch(&lines))),
            ("replayed", replayed),
        ] {
            let (code, out, err) = detect(&jsonl(&variant));
            assert_eq!(code, 0, "{name} {how}: {err}");
            assert_eq!(out, expected, "{name} {how}");
        }
    }
}

#[test]
fn each_profile_matches_its_golden_output_however_the_input_is_cut() {
    let input = std::fs::read_to_string(golden("catalogue.input.jsonl")).unwrap();
    let lines = batches(&input);
    for profile in ["posthog", "datadog", "sentry", "amplitude", "openreplay"] {
        let expected =
            std::fs::read_to_string(golden(&format!("catalogue.{profile}.expected.jsonl"))).unwrap();
        assert!(!expected.is_empty());
        for (how, variant) in [
            ("as written", lines.clone()),
            ("re-batched", rebatch(&lines)),
            ("re-batched and interleaved", interleave(&rebatch(&lines))),
            ("replayed", [lines.clone(), lines.clone()].concat()),
        ] {
            let (code, out, err) = detect_with(&["--profile", profile], &jsonl(&variant));
            assert_eq!(code, 0, "{profile} {how}: {err}");
            assert_eq!(out, expected, "{profile} {how}");
        }
    }
}

#[test]
fn all_scenarios_together_give_the_union_in_canonical_order() {
    let mut all = Vec::new();
    let mut expected = Vec::new();
    for name in SCENARIOS {
        all.extend(batches(&std::fs::read_to_string(golden(&format!("{name}.input.jsonl"))).unwrap()));
        expected.extend(
            std::fs::read_to_string(golden(&format!("{name}.expected.jsonl")))
                .unwrap()
                .lines()
                .map(str::to_owned),
        );
    }
    // Canonical order: (sid, ts, kind, evidence).
    expected.sort_by_key(|l| {
        let v: Value = serde_json::from_str(l).unwrap();
        (
            v["sid"].as_str().unwrap().to_owned(),
            v["ts"].as_i64().unwrap(),
            v["kind"].as_str().unwrap().to_owned(),
        )
    });
    let want: String = expected.iter().map(|l| format!("{l}\n")).collect();
    let (code, out, _) = detect(&jsonl(&interleave(&rebatch(&all))));
    assert_eq!(code, 0);
    assert_eq!(out, want);
    // Exactly the eight keys, in order.
    for line in out.lines() {
        let keys = ["kind", "sid", "ts", "end_ts", "count", "evidence", "sel", "url"];
        let at: Vec<usize> =
            keys.iter().map(|k| line.find(&format!("\"{k}\":")).expect("key present")).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "keys out of order: {line}");
        assert_eq!(serde_json::from_str::<Value>(line).unwrap().as_object().unwrap().len(), 8, "{line}");
    }
}

#[test]
fn invalid_lines_are_reported_and_the_rest_still_processed() {
    let input = std::fs::read_to_string(golden("error_click.input.jsonl")).unwrap();
    let expected = std::fs::read_to_string(golden("error_click.expected.jsonl")).unwrap();
    let broken = format!("{{not json\n{input}{{\"v\":9,\"sid\":\"x\",\"events\":[]}}\n");
    let (code, out, err) = detect(broken.as_bytes());
    assert_eq!(code, 1);
    assert_eq!(out, expected);
    assert!(err.contains("line 1: invalid_json"), "{err}");
    assert!(err.contains("line 6: unsupported_version"), "{err}");
}

#[test]
fn a_rules_file_changes_the_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[rage_click]\nmin_clicks = 5\n").unwrap();
    let out = Command::new(ufse_bin())
        .args(["detect", "--rules"])
        .arg(&rules)
        .arg(golden("rage_click.input.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("\"rage_click\""), "no run of 5 clicks in the scenario: {stdout}");
    assert!(stdout.contains("\"slow_click\""), "the other rules still run: {stdout}");
    std::fs::write(&rules, "[rage_click]\nmin_clicks = 1\n").unwrap();
    let out =
        Command::new(ufse_bin()).args(["detect", "--rules"]).arg(&rules).arg("/dev/null").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules.toml") && err.contains("rage_click.min_clicks"), "{err}");
}
