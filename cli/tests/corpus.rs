//! `ufse evaluate` on the labelled corpus under `corpus/` (built by
//! `corpus/build.py` from what each session's author meant, not from the
//! rules): the quality figures of the default profile.

mod util;

use std::path::PathBuf;

use serde_json::Value;
use util::ufse_bin;

fn evaluate(args: &[&str]) -> Vec<Value> {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let out = std::process::Command::new(ufse_bin())
        .args(["evaluate", "--json", "--corpus"])
        .arg(&corpus)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn scores(lines: &[Value]) -> Vec<(String, f64, f64)> {
    lines
        .iter()
        .filter(|l| l["type"] == "kind")
        .map(|l| {
            let s = &l["score"];
            (
                s["kind"].as_str().unwrap().to_owned(),
                s["precision"].as_f64().unwrap(),
                s["recall"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn summary(lines: &[Value]) -> &Value {
    lines.iter().find(|l| l["type"] == "summary").expect("a summary line")
}

#[test]
fn the_default_profile_on_the_labelled_corpus() {
    // Train: what rules may be tuned on. Every kind, and no look-alike flagged.
    let train = evaluate(&["--split", "train"]);
    let kinds = scores(&train);
    assert_eq!(kinds.len(), 10, "every kind of the catalogue is labelled: {kinds:?}");
    for (kind, p, r) in &kinds {
        assert!(*p >= 0.98 && *r >= 0.98, "{kind}: precision {p}, recall {r}");
    }
    assert_eq!(summary(&train)["lookalikes_with_signals"], 0);

    // Holdout: never looked at while tuning (re-seeded after the one rule
    // change its first seeds prompted, see corpus/README.md).
    let holdout = evaluate(&["--split", "holdout"]);
    assert_eq!(summary(&holdout)["lookalikes_with_signals"], 0, "no look-alike is flagged");
    let kinds = scores(&holdout);
    assert_eq!(kinds.len(), 10);
    for (kind, p, r) in kinds {
        assert!(p >= 0.98 && r >= 0.98, "{kind}: precision {p}, recall {r}");
    }
}

#[test]
fn the_default_profile_on_sessions_recorded_in_a_browser() {
    // Scripted visits to the demo shop in headless Chromium, with the SDK
    // (corpus/record.mjs): what a real browser and the real SDK send.
    let browser = evaluate(&["--split", "browser"]);
    assert!(summary(&browser)["sessions"].as_u64().unwrap() >= 40);
    assert_eq!(summary(&browser)["lookalikes_with_signals"], 0, "no look-alike is flagged");
    let kinds = scores(&browser);
    let names: Vec<&str> = kinds.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(names, ["dead_click", "error_click", "failed_request", "rage_click", "slow_click"]);
    for (kind, p, r) in kinds {
        assert!(p >= 0.98 && r >= 0.98, "{kind}: precision {p}, recall {r}");
    }
}

#[test]
fn peer_profiles_are_scored_on_the_same_corpus() {
    // PostHog's rules have no stepper or text-selection exception: its rage
    // clicks fire on look-alikes the catalogue leaves alone.
    let posthog = evaluate(&["--split", "train", "--profile", "posthog"]);
    assert!(summary(&posthog)["lookalikes_with_signals"].as_u64().unwrap() > 0);
    assert_eq!(summary(&posthog)["profile"], "posthog");
}
