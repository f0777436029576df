//! `ufse replay`: a session stored by a real `ufse serve`, replayed from
//! its data directory as text, JSON Lines, explained, compared with another
//! profile, cut to a time range and paced.

mod util;

use std::time::Duration;

use serde_json::{json, Value};
use util::*;

/// Serves one session (a rage run with an error after it) and waits until
/// its events are stored; the server is stopped again.
fn stored_session() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.post(&shop_batch("rp"), &[]).status, 202);
    wait_for("the session's events", Duration::from_secs(30), || {
        let out = ufse(dir.path(), &["sessions", "show", "rp", "--json"]);
        let n = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains("\"event\"")).count();
        (n == 6).then_some(())
    });
    assert_eq!(server.terminate(), Some(0));
    dir
}

fn text(dir: &std::path::Path, args: &[&str]) -> String {
    let out = ufse(dir, args);
    assert!(out.status.success(), "ufse {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == t).collect()
}

#[test]
fn replay_shows_the_timeline_with_signals_explained_compared_and_paced() {
    let dir = stored_session();
    let dir = dir.path();

    // Text, piped: no colour codes; every event, the signals after the event completing them.
    let plain = text(dir, &["replay", "rp"]);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.starts_with("session rp  project default  6 events  60.000 s  profile ufse\n"), "{plain}");
    let lines: Vec<&str> = plain.lines().collect();
    let at = |needle: &str| {
        lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}: {plain}"))
    };
    assert!(at("#4 click") < at("rage_click count=3 evidence=[2, 3, 4]"));
    assert!(at("#5 error") < at("error_click count=1 evidence=[2, 3, 4, 5]"));
    assert!(at("error_click") < at("#6 custom"));

    // JSON Lines: the same content.
    let json = json_lines(dir, &["replay", "rp"]);
    assert_eq!(of_type(&json, "session")[0]["events"], 6);
    assert_eq!(of_type(&json, "event").len(), 6);
    let mut kinds: Vec<&str> =
        of_type(&json, "signal").iter().map(|s| s["signal"]["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["dead_click", "error_click", "rage_click"]);

    // --explain: the rule, its parameters and each evidence event.
    let explained = text(dir, &["replay", "rp", "--explain"]);
    assert!(explained.contains("rule rage_click (profile ufse): enabled=true fold=true"), "{explained}");
    assert!(explained.contains("max_interval_ms=1000 min_clicks=3 radius_px=30.0"), "{explained}");
    assert_eq!(explained.matches("evidence +").count(), 3 + 3 + 4, "{explained}");

    // --profile: what differs from another profile's defaults.
    let vs = json_lines(dir, &["replay", "rp", "--profile", "posthog"]);
    assert_eq!(of_type(&vs, "difference")[0]["only_under"], json!({"ufse": 2, "posthog": 1}));
    let only_posthog: Vec<_> =
        of_type(&vs, "signal").into_iter().filter(|s| s["only_under"] == "posthog").collect();
    assert_eq!(only_posthog[0]["signal"]["kind"], "dead_click");
    assert_eq!(only_posthog[0]["signal"]["evidence"], json!([2]));

    // --from/--to cut the timeline.
    let cut = json_lines(dir, &["replay", "rp", "--from", "150ms", "--to", "500"]);
    let seqs: Vec<u64> = of_type(&cut, "event").iter().map(|e| e["event"]["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 4]);

    // --follow paces the same output (60 s of session at 1000x: 60 ms).
    assert_eq!(text(dir, &["replay", "rp", "--follow", "--speed", "1000"]), plain);

    // The same profile twice: the configured rules against its defaults, told apart.
    let same = text(dir, &["replay", "rp", "--profile", "ufse"]);
    assert!(same.contains("profile ufse (configured) vs ufse (defaults)"), "{same}");
    assert!(same.contains("ufse (configured) and ufse (defaults) find the same signals"), "{same}");

    // Mistakes get a clear answer.
    let out = ufse(dir, &["replay", "rp", "--from", "2s", "--to", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from (2000 ms) is after --to (1000 ms)"));
    let out = ufse(dir, &["replay", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session nobody in project default"));
    let out = ufse(dir, &["replay", "rp", "--from", "soon"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --from `soon`"));
    let out = ufse(dir, &["replay", "rp", "--profile", "fullstory"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown profile `fullstory`"));
}
