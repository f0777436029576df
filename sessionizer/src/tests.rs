use super::*;
use serde_json::json;
use ufse_engine::SignalKind;
use ufse_schema::{parse_batch, Limits};

fn batch(sid: &str, events: serde_json::Value) -> LogBatch {
    let body = serde_json::to_vec(&json!({"v":1,"sid":sid,"uid":"u1","events":events})).unwrap();
    LogBatch::from_parsed("default", 0, parse_batch(&body, &Limits::default()).unwrap())
}

fn click(seq: u64, ts: i64) -> serde_json::Value {
    json!({"t":"click","ts":ts,"seq":seq,"x":10,"y":10,"sel":"button#go","el":{"tag":"button"}})
}

fn sessionizer() -> Sessionizer {
    Sessionizer::new(SessionizerConfig::default(), Arc::new(RuleSet::default()))
}

fn kinds(out: &Output) -> Vec<(SignalKind, Vec<u64>)> {
    let mut v: Vec<_> = out.signals.iter().map(|s| (s.signal.kind, s.signal.evidence.clone())).collect();
    v.sort();
    v
}

#[test]
fn events_within_the_reorder_bound_are_evaluated_in_order() {
    let mut s = sessionizer();
    let mut out = Output::default();
    // The third click arrives first; all within 5 s of each other.
    s.on_batch(&batch("a", json!([click(3, 1200)])), None, &mut out);
    s.on_batch(&batch("a", json!([click(1, 1000), click(2, 1100)])), None, &mut out);
    s.finish(&mut out);
    // A dead rage run: its dead click is folded into one for the run.
    assert_eq!(
        kinds(&out),
        vec![(SignalKind::RageClick, vec![1, 2, 3]), (SignalKind::DeadClick, vec![1, 2, 3])]
    );
    assert!(out.drops.is_empty());
}

#[test]
fn late_duplicate_and_conflicting_events_are_counted_not_evaluated() {
    let mut s = sessionizer().keep_events(true);
    let mut out = Output::default();
    s.on_batch(&batch("a", json!([click(1, 1000), {"t":"select","ts":20_000,"seq":2}])), None, &mut out);
    // seq 1 again, same content: duplicate; seq 2 with other content: conflict.
    s.on_batch(&batch("a", json!([click(1, 1000), {"t":"select","ts":20_001,"seq":2}])), None, &mut out);
    // ts 2000 is more than 5 s behind 20,000: late, but stored.
    s.on_batch(&batch("a", json!([click(3, 2000)])), None, &mut out);
    s.finish(&mut out);
    assert_eq!(out.drops.get(&DropReason::Duplicate), Some(&1));
    assert_eq!(out.drops.get(&DropReason::SeqConflict), Some(&1));
    assert_eq!(out.drops.get(&DropReason::Late), Some(&1));
    assert_eq!(
        out.events.iter().map(|c| c.positions.len()).collect::<Vec<_>>(),
        vec![2, 1],
        "the duplicate and the conflict are not stored"
    );
    // Only seq 1 was evaluated as a click: one dead click, no rage.
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
}

#[test]
fn silence_in_log_time_closes_windows_and_ends_sessions() {
    let mut s = sessionizer();
    let mut out = Output::default();
    s.on_batch(&batch("a", json!([click(1, 1000)])), Some(100_000), &mut out);
    // 12 s of log silence: the dead-click verdict (3 s + 10 s grace) is not due yet.
    s.on_clock(112_000, &mut out);
    assert!(out.signals.is_empty());
    // Just past 18 s: bound = 1000 + 18,001 - 5,000 > 1000 + 13,000.
    s.on_clock(118_001, &mut out);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
    assert_eq!(s.live_sessions(), 1);
    s.on_clock(100_000 + 30 * 60 * 1000, &mut out);
    assert_eq!(s.live_sessions(), 0);
    let last = out.summaries.last().unwrap();
    assert!(last.ended);
    assert_eq!(last.signals.get("dead_click"), Some(&1));
}

/// Silence scans skip sessions with nothing pending and move their bound
/// when they are next touched: an event behind the bound the skipped scans
/// would have reached is late all the same.
#[test]
fn an_idle_session_catches_up_with_the_scans_it_skipped() {
    let run = |ts: i64| {
        let mut s = sessionizer();
        let mut out = Output::default();
        s.on_batch(&batch("a", json!([click(1, 1000)])), Some(100_000), &mut out);
        // The last window (a failed request's, 35 s after the click)
        // closes at the 141 s scan, leaving nothing pending; the scans up
        // to 200 s would move the bound to 1000 + 100,000 - 5,000.
        for t in (101..=200).map(|k| k * 1000) {
            s.on_clock(t, &mut out);
        }
        assert!(s.pending.is_empty(), "the session is idle, so the scans skip it");
        assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
        s.on_batch(&batch("a", json!([click(2, ts)])), Some(200_500), &mut out);
        out.drops.get(&DropReason::Late).copied()
    };
    assert_eq!(run(95_999), Some(1));
    assert_eq!(run(96_000), None);
}

#[test]
fn a_long_gap_in_client_time_starts_a_new_part() {
    let mut s = sessionizer();
    let mut out = Output::default();
    let gap = 31 * 60 * 1000;
    s.on_batch(
        &batch(
            "a",
            json!([
                {"t":"nav","ts":0,"seq":1,"url":"https://a/x","nav":"load"},
                {"t":"nav","ts":gap,"seq":2,"url":"https://a/y","nav":"load"}
            ]),
        ),
        None,
        &mut out,
    );
    s.finish(&mut out);
    let ended: Vec<_> =
        out.summaries.iter().filter(|s| s.ended).map(|s| (s.part, s.first_url.clone())).collect();
    assert_eq!(ended, vec![(0, Some("https://a/x".into())), (1, Some("https://a/y".into()))]);
}

#[test]
fn snapshot_and_restore_mid_stream_changes_nothing() {
    let batches: Vec<(LogBatch, i64)> = vec![
        (batch("a", json!([click(1, 1000), click(2, 1100)])), 10_000),
        (batch("b", json!([click(1, 5000)])), 10_500),
        (
            batch("a", json!([click(3, 1200), {"t":"error","ts":1300,"seq":4,"msg":"x","kind":"error"}])),
            11_000,
        ),
        (batch("b", json!([{"t":"mutation","ts":5100,"seq":2,"n":1}])), 40_000),
    ];
    let run = |cut: Option<usize>| {
        let rules = Arc::new(RuleSet::default());
        let mut s = Sessionizer::new(SessionizerConfig::default(), Arc::clone(&rules));
        let mut out = Output::default();
        for (i, (b, t)) in batches.iter().enumerate() {
            if cut == Some(i) {
                s = Sessionizer::restore(&s.snapshot(), SessionizerConfig::default(), Arc::clone(&rules))
                    .unwrap();
            }
            s.on_batch(b, Some(*t), &mut out);
        }
        s.finish(&mut out);
        let mut sigs: Vec<Signal> = out.signals.into_iter().map(|s| s.signal).collect();
        sigs.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        sigs
    };
    let whole = run(None);
    assert!(whole.len() >= 3, "{whole:?}");
    for cut in 1..batches.len() {
        assert_eq!(run(Some(cut)), whole, "restored before batch {cut}");
    }
}

/// Regression: lateness was judged against the previous batch's bound, so
/// the same events split differently were late in one run and not another.
#[test]
fn lateness_does_not_depend_on_how_batches_are_split() {
    let run = |batches: Vec<serde_json::Value>| {
        let mut s = sessionizer();
        let mut out = Output::default();
        for b in batches {
            s.on_batch(&batch("a", b), None, &mut out);
        }
        s.finish(&mut out);
        (kinds(&out), out.drops.get(&DropReason::Late).copied())
    };
    let split = run(vec![json!([click(1, 10_000)]), json!([click(2, 4_000)])]);
    let whole = run(vec![json!([click(1, 10_000), click(2, 4_000)])]);
    assert_eq!(split, whole);
    assert_eq!(whole.1, Some(1), "6 s behind the newest event is past the 5 s bound");
}

/// Regression: a sid back after its session ended by silence started over
/// as part 0 and overwrote the first part's summary.
#[test]
fn a_sid_back_after_silence_continues_as_the_next_part() {
    let mut s = sessionizer();
    let mut out = Output::default();
    s.on_batch(
        &batch("a", json!([{"t":"nav","ts":0,"seq":1,"url":"https://a/x","nav":"load"}])),
        Some(0),
        &mut out,
    );
    s.on_clock(31 * 60 * 1000, &mut out);
    assert_eq!(s.live_sessions(), 0);
    let back = json!([{"t":"nav","ts":40 * 60 * 1000,"seq":2,"url":"https://a/y","nav":"load"}]);
    s.on_batch(&batch("a", back), Some(40 * 60 * 1000), &mut out);
    s.finish(&mut out);
    let parts: Vec<(u32, bool)> =
        out.summaries.iter().filter(|x| x.ended).map(|x| (x.part, x.ended)).collect();
    assert_eq!(parts, vec![(0, true), (1, true)]);
}

/// Regression: a client whose clock never moves kept every event buffered.
#[test]
fn a_stuck_client_clock_cannot_grow_the_reorder_buffer_without_bound() {
    let cfg = SessionizerConfig { max_buffered_events: 100, ..SessionizerConfig::default() };
    let mut s = Sessionizer::new(cfg, Arc::new(RuleSet::default()));
    let mut out = Output::default();
    for b in 0..10u64 {
        let events: Vec<_> =
            (0..50u64).map(|i| json!({"t":"select","ts":1000,"seq":b * 50 + i + 1})).collect();
        s.on_batch(&batch("a", serde_json::Value::Array(events)), None, &mut out);
    }
    let buffered = s.sessions.iter().map(|x| x.buffer.len()).max().unwrap();
    assert!(buffered <= 100, "{buffered}");
    let counted: u64 = out.summaries.last().unwrap().counts.values().sum();
    assert!(counted >= 400, "the overflow was evaluated, not dropped: {counted}");
}

/// Regression: a new part forgot the page, so clicks without a `url`
/// after a 30-minute gap had none and grouped under another issue.
#[test]
fn a_new_part_keeps_the_page() {
    let mut s = sessionizer();
    let mut out = Output::default();
    let gap = 31 * 60 * 1000;
    let events = json!([
        {"t":"nav","ts":0,"seq":1,"url":"https://a/cart","nav":"load"},
        click(2, gap), click(3, gap + 100), click(4, gap + 200)
    ]);
    s.on_batch(&batch("a", events), None, &mut out);
    s.finish(&mut out);
    let rage = out.signals.iter().find(|x| x.signal.kind == SignalKind::RageClick).expect("a rage click");
    assert_eq!(rage.signal.url.as_deref(), Some("https://a/cart"));
}

#[test]
fn the_digest_is_stable_and_tells_contents_apart() {
    // Pinned: snapshots store digests, so the function must never change silently.
    assert_eq!(digest(b"ufse"), 2_273_068_104);
    let a = digest(br#"{"t":"click","ts":1,"seq":1}"#);
    assert_ne!(a, digest(br#"{"t":"click","ts":2,"seq":1}"#));
    assert_ne!(digest(b"12345678"), digest(b"12345679"));
    assert_ne!(digest(b"1234567"), digest(b"12345670"), "length is part of the digest");
}
