//! Rule tests: each rule's behaviour, its look-alikes, and how rules meet.

use super::*;
use serde_json::json;
use ufse_schema::parse_event;

fn ev(v: serde_json::Value) -> Event {
    parse_event(v.as_object().unwrap().clone()).unwrap()
}

fn click(seq: u64, ts: i64, x: f64, sel: &str) -> Event {
    ev(json!({"t":"click","ts":ts,"seq":seq,"x":x,"y":100,"sel":sel,"el":{"tag":"button"}}))
}

fn run(rules: &RuleSet, events: &[Event]) -> Vec<Signal> {
    let mut s = SessionEngine::new();
    let mut out = Vec::new();
    for e in events {
        s.on_event(rules, "s", e, &mut out);
    }
    s.on_end(rules, "s", &mut out);
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out
}

fn kinds(out: &[Signal]) -> Vec<(SignalKind, Vec<u64>)> {
    out.iter().map(|s| (s.kind, s.evidence.clone())).collect()
}

fn nav(seq: u64, ts: i64) -> Event {
    ev(json!({"t":"nav","ts":ts,"seq":seq,"url":"https://shop.example.com/cart","nav":"load"}))
}

fn mutation(seq: u64, ts: i64) -> Event {
    ev(json!({"t":"mutation","ts":ts,"seq":seq,"n":3}))
}

#[test]
fn rage_needs_three_close_quick_clicks_and_reports_the_whole_run() {
    let rules = RuleSet::default();
    let out = run(
        &rules,
        &[
            nav(1, 0),
            click(2, 100, 10.0, "b#x"),
            mutation(3, 110),
            click(4, 600, 20.0, "b#x"),
            click(5, 1600, 30.0, "b#x"),
            click(6, 1700, 30.0, "b#x"),
        ],
    );
    let rage: Vec<_> = out.iter().filter(|s| s.kind == SignalKind::RageClick).collect();
    assert_eq!(rage.len(), 1);
    assert_eq!(rage[0].count, 4);
    assert_eq!(rage[0].evidence, vec![2, 4, 5, 6]);
    assert_eq!((rage[0].ts, rage[0].end_ts), (100, 1700));
    assert_eq!(rage[0].url.as_deref(), Some("https://shop.example.com/cart"));
    // Click 4 got no reaction (the mutation answered click 2): the run
    // also yields one dead click, folded, sharing its evidence.
    assert_eq!(
        kinds(&out),
        vec![(SignalKind::DeadClick, vec![2, 4, 5, 6]), (SignalKind::RageClick, vec![2, 4, 5, 6])]
    );
    assert_eq!(out[0].end_ts, 1700 + 3000);
}

#[test]
fn rage_run_breaks_on_distance_gap_and_selection() {
    let rules = RuleSet::default();
    // 31 px apart breaks (radius 30), 1001 ms breaks (interval 1000).
    let far = run(&rules, &[click(1, 0, 0.0, "b"), click(2, 100, 31.0, "b"), click(3, 200, 62.0, "b")]);
    assert!(far.iter().all(|s| s.kind != SignalKind::RageClick));
    let slow = run(&rules, &[click(1, 0, 0.0, "b"), click(2, 1001, 0.0, "b"), click(3, 2002, 0.0, "b")]);
    assert!(slow.iter().all(|s| s.kind != SignalKind::RageClick));
    let selecting = run(
        &rules,
        &[
            click(1, 0, 0.0, "p"),
            ev(json!({"t":"select","ts":50,"seq":2})),
            click(3, 100, 0.0, "p"),
            click(4, 200, 0.0, "p"),
        ],
    );
    assert!(selecting.iter().all(|s| s.kind != SignalKind::RageClick));
    // Seen in Chromium: a fast triple click reports one selection change,
    // after its last click. The run was selecting text, not rage.
    let select = |seq, ts| ev(json!({"t":"select","ts":ts,"seq":seq}));
    let triple = [click(1, 0, 0.0, "p"), click(2, 1, 0.0, "p"), click(3, 2, 0.0, "p"), select(4, 3)];
    assert!(run(&rules, &triple).iter().all(|s| s.kind != SignalKind::RageClick));
    // A selection long after a run does not undo it.
    let mut late = triple.clone();
    late[3] = select(4, 700);
    assert!(run(&rules, &late).iter().any(|s| s.kind == SignalKind::RageClick));
}

#[test]
fn clicks_on_text_inputs_are_transparent_to_rage() {
    let rules = RuleSet::default();
    let input = ev(
        json!({"t":"click","ts":150,"seq":3,"x":0,"y":100,"sel":"input#q","el":{"tag":"input","type":"text"}}),
    );
    let out = run(&rules, &[click(1, 0, 0.0, "b"), click(2, 100, 0.0, "b"), input, click(4, 200, 0.0, "b")]);
    let rage: Vec<_> = out.iter().filter(|s| s.kind == SignalKind::RageClick).collect();
    assert_eq!(rage.len(), 1);
    assert_eq!(rage[0].evidence, vec![1, 2, 4]);
}

#[test]
fn dead_click_waits_for_late_requests_and_counts_reactions() {
    let rules = RuleSet::default();
    // No reaction at all: dead, end_ts = click + window.
    let out = run(&rules, &[nav(1, 0), click(2, 1000, 0.0, "b#dead")]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![2])]);
    assert_eq!(out[0].end_ts, 4000);
    // A request that started 2.5 s after the click and ended 9 s later is a reaction.
    let net = ev(
        json!({"t":"net","ts":12_500,"seq":3,"method":"POST","url":"https://api/x","status":200,"dur":9_000}),
    );
    let out = run(&rules, &[nav(1, 0), click(2, 1000, 0.0, "b"), net]);
    // ... and, the user having seen nothing, not a slow click either.
    assert!(out.is_empty());
    // A mutation just after the window does not save it.
    let out = run(&rules, &[nav(1, 0), click(2, 1000, 0.0, "b"), mutation(3, 4001)]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![2])]);
    // The decision is made once session time passes window + grace, not before.
    let mut s = SessionEngine::new();
    let mut out = Vec::new();
    s.on_event(&rules, "s", &click(1, 0, 0.0, "b"), &mut out);
    s.on_watermark(&rules, "s", 13_000, &mut out);
    assert!(out.is_empty());
    s.on_watermark(&rules, "s", 13_001, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn dead_click_exclusions_and_repeats() {
    let rules = RuleSet::default();
    let blank = ev(json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"a.ext",
        "el":{"tag":"a","href":"https://x","target":"_blank"}}));
    let canvas = ev(json!({"t":"click","ts":5000,"seq":2,"x":0,"y":0,"sel":"canvas","el":{"tag":"canvas"}}));
    let body = ev(json!({"t":"click","ts":10000,"seq":3,"x":0,"y":0,"sel":"body","el":{"tag":"body"}}));
    assert!(run(&rules, &[blank, canvas, body]).is_empty());
    // Two clicks on one selector 500 ms apart: one dead click.
    let out = run(&rules, &[click(1, 0, 0.0, "b#x"), click(2, 500, 0.0, "b#x")]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
}

/// Regression: repeat suppression compared against the last click on any
/// selector, so X, Y, X gave two dead clicks on X and a long chain of X
/// clicks hid every one after the first.
#[test]
fn dead_click_repeats_are_judged_per_selector_against_waiting_clicks() {
    let rules = RuleSet::default();
    let out = run(&rules, &[click(1, 0, 0.0, "b#x"), click(2, 200, 500.0, "b#y"), click(3, 500, 0.0, "b#x")]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1]), (SignalKind::DeadClick, vec![2])]);
    // 100 px apart, so the chain is no rage run.
    let chain: Vec<Event> = (0..4).map(|i| click(i + 1, i as i64 * 900, i as f64 * 100.0, "b#x")).collect();
    let out = run(&rules, &chain);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1]), (SignalKind::DeadClick, vec![3])]);
    // The first click got its reaction; the repeat did not: the repeat is dead.
    let out = run(&rules, &[click(1, 0, 0.0, "b#x"), mutation(2, 100), click(3, 500, 0.0, "b#x")]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![3])]);
}

/// Seen in the SDK's browser test: a broken button clicked 0.8 s before a
/// working one took the working one's answer as its own and came out slow.
#[test]
fn a_reaction_right_after_a_click_elsewhere_is_that_clicks_alone() {
    let rules = RuleSet::default();
    // The handler of b#ok changes the DOM at once: b#broken stays dead.
    let out =
        run_both(&rules, &[click(1, 0, 0.0, "b#broken"), click(2, 800, 300.0, "b#ok"), mutation(3, 805)]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
    // A request b#save sent as it was clicked (reported when it ended).
    let out = run_both(
        &rules,
        &[click(1, 0, 0.0, "b#broken"), click(2, 800, 300.0, "b#save"), net(3, 900, 200, 98)],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
    // Later than `cause_ms` after the second click, the answer may be the
    // first click's, slow: both get it.
    let out =
        run_both(&rules, &[click(1, 0, 0.0, "b#slow"), click(2, 800, 300.0, "b#ok"), mutation(3, 1500)]);
    assert_eq!(kinds(&out), vec![(SignalKind::SlowClick, vec![1])]);
    // Typing into a field clicked into after a broken button: the user's
    // doing, however long after, never the button's answer.
    let typed = |seq, ts| ev(json!({"t":"input","ts":ts,"seq":seq,"sel":"form > textarea#msg"}));
    let field = ev(
        json!({"t":"click","ts":1300,"seq":2,"x":300,"y":100,"sel":"form > textarea#msg","el":{"tag":"textarea"}}),
    );
    let out =
        run_both(&rules, &[click(1, 0, 0.0, "b#broken"), field.clone(), typed(3, 1700), typed(4, 2100)]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
    // Nor does the page going hidden after that (the tab closed).
    let hidden = ev(json!({"t":"vis","ts":2500,"seq":5,"state":"hidden"}));
    let out = run_both(&rules, &[click(1, 0, 0.0, "b#broken"), field, hidden]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
    // Nor does the page going hidden long after the latest click: the user
    // left (often because nothing worked).
    let left = ev(json!({"t":"vis","ts":900,"seq":2,"state":"hidden"}));
    let out = run_both(&rules, &[click(1, 0, 0.0, "b#broken"), left]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
    // It still answers the latest click right away: a button that opened a new tab.
    let opened = ev(json!({"t":"vis","ts":300,"seq":2,"state":"hidden"}));
    assert!(run_both(&rules, &[click(1, 0, 0.0, "b#report"), opened]).is_empty());
    // The same element clicked again: its answer is every click's.
    let out = run_both(&rules, &[click(1, 0, 0.0, "b#x"), click(2, 1200, 300.0, "b#x"), mutation(3, 1205)]);
    assert_eq!(kinds(&out), vec![(SignalKind::SlowClick, vec![1])]);
}

#[test]
fn error_click_is_on_the_most_recent_click_and_broken_by_nav() {
    let rules = RuleSet::default();
    let err = |seq, ts| ev(json!({"t":"error","ts":ts,"seq":seq,"msg":"boom","kind":"error"}));
    let out = run(
        &rules,
        &[
            click(1, 0, 0.0, "b#a"),
            mutation(2, 10),
            click(3, 2000, 0.0, "b#b"),
            mutation(4, 2010),
            err(5, 2900),
        ],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::ErrorClick, vec![3, 5])]);
    assert_eq!(out[0].sel.as_deref(), Some("b#b"));
    let out = run(&rules, &[click(1, 0, 0.0, "b"), nav(2, 10), err(3, 500)]);
    assert!(out.iter().all(|s| s.kind != SignalKind::ErrorClick));
    let out = run(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 10), err(3, 1001)]);
    assert!(out.is_empty());
}

#[test]
fn snapshot_restore_mid_session_gives_the_same_signals() {
    let rules = RuleSet::default();
    let events = [nav(1, 0), click(2, 100, 0.0, "b"), click(3, 200, 0.0, "b"), click(4, 300, 0.0, "b")];
    let whole = run(&rules, &events);
    let mut s = SessionEngine::new();
    let mut out = Vec::new();
    for e in &events[..2] {
        s.on_event(&rules, "s", e, &mut out);
    }
    let snap = serde_json::to_string(&s).unwrap();
    let mut s: SessionEngine = serde_json::from_str(&snap).unwrap();
    for e in &events[2..] {
        s.on_event(&rules, "s", e, &mut out);
    }
    s.on_end(&rules, "s", &mut out);
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    assert_eq!(out, whole);
}

fn labelled(seq: u64, ts: i64, txt: &str) -> Event {
    ev(
        json!({"t":"click","ts":ts,"seq":seq,"x":5,"y":5,"sel":"div.qty > button","el":{"tag":"button"},"txt":txt}),
    )
}

fn only(out: &[Signal], kind: SignalKind) -> Vec<&Signal> {
    out.iter().filter(|s| s.kind == kind).collect()
}

/// Runs `events`, also with the session's time moved on in 100 ms steps
/// between them (as silence does in `serve`); both must agree.
fn run_both(rules: &RuleSet, events: &[Event]) -> Vec<Signal> {
    let plain = run(rules, events);
    let mut s = SessionEngine::new();
    let mut out = Vec::new();
    let mut now = events.first().map_or(0, |e| e.ts);
    for e in events {
        while now + 100 < e.ts {
            now += 100;
            s.on_watermark(rules, "s", now, &mut out);
        }
        s.on_event(rules, "s", e, &mut out);
    }
    s.on_end(rules, "s", &mut out);
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    assert_eq!(out, plain, "watermarks between events changed the signals");
    plain
}

#[test]
fn steppers_and_pagination_are_transparent_to_rage() {
    let rules = RuleSet::default();
    for label in ["+", "-", "Next", "»", "##"] {
        let out =
            run_both(&rules, &[labelled(1, 0, label), labelled(2, 200, label), labelled(3, 400, label)]);
        assert!(only(&out, SignalKind::RageClick).is_empty(), "{label}: {out:?}");
    }
    // Transparent means they do not break a run either.
    let out = run_both(
        &rules,
        &[click(1, 0, 5.0, "b"), labelled(2, 100, "+"), click(3, 200, 5.0, "b"), click(4, 300, 5.0, "b")],
    );
    assert_eq!(only(&out, SignalKind::RageClick)[0].evidence, vec![1, 3, 4]);
    // Any other label rages as usual.
    let out = run_both(&rules, &[labelled(1, 0, "Buy"), labelled(2, 200, "Buy"), labelled(3, 400, "Buy")]);
    assert_eq!(only(&out, SignalKind::RageClick).len(), 1);
}

#[test]
fn slow_click_is_a_late_first_reaction_within_the_window() {
    let rules = RuleSet::default();
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 1500)]);
    assert_eq!(kinds(&out), vec![(SignalKind::SlowClick, vec![1])]);
    assert_eq!((out[0].ts, out[0].end_ts, out[0].count), (0, 0, 1));
    // In time, or exactly at the limit: fine.
    assert!(run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 1000)]).is_empty());
    // What the user sees decides: a request sent at 800 ms (reported last,
    // when it ended) does not make the result at 1.5 s feel fast.
    let net =
        ev(json!({"t":"net","ts":2500,"seq":3,"method":"GET","url":"https://api/x","status":200,"dur":1700}));
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 1500), net]);
    assert_eq!(kinds(&out), vec![(SignalKind::SlowClick, vec![1])]);
    // A spinner at once, the result later: fine.
    assert!(run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 40), mutation(3, 2500)]).is_empty());
    // Past the window it is dead, not slow.
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 3001)]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
}

fn net(seq: u64, ts: i64, status: u16, dur: u64) -> Event {
    ev(json!({"t":"net","ts":ts,"seq":seq,"method":"POST","url":"https://api/x","status":status,"dur":dur}))
}

#[test]
fn failed_request_is_on_the_most_recent_click_or_submit() {
    let rules = RuleSet::default();
    let react = mutation(9, 10);
    // Started 2 s after the click, ended with a 503.
    let out = run_both(&rules, &[click(1, 0, 0.0, "b#pay"), react.clone(), net(10, 3000, 503, 1000)]);
    assert_eq!(kinds(&out), vec![(SignalKind::FailedRequest, vec![1, 10])]);
    assert_eq!((out[0].ts, out[0].end_ts), (0, 3000));
    assert_eq!(out[0].sel.as_deref(), Some("b#pay"));
    // Status 0 (network failure) counts; 4xx does not; a start past 5 s does not.
    assert_eq!(
        kinds(&run_both(&rules, &[click(1, 0, 0.0, "b"), react.clone(), net(10, 100, 0, 50)])).len(),
        1
    );
    assert!(run_both(&rules, &[click(1, 0, 0.0, "b"), react.clone(), net(10, 3000, 404, 1000)]).is_empty());
    assert!(run_both(&rules, &[click(1, 0, 0.0, "b"), react.clone(), net(10, 5100, 500, 50)]).is_empty());
    // The most recent trigger before the request started, a submit here.
    let submit = ev(json!({"t":"submit","ts":500,"seq":2,"sel":"form#login"}));
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), react, submit, net(10, 900, 500, 300)]);
    assert_eq!(kinds(&out), vec![(SignalKind::FailedRequest, vec![2, 10])]);
    assert_eq!(out[0].sel.as_deref(), Some("form#login"));
}

fn submit(seq: u64, ts: i64, sel: &str) -> Event {
    ev(json!({"t":"submit","ts":ts,"seq":seq,"sel":sel}))
}

#[test]
fn form_loop_needs_three_submits_of_one_form_without_navigation() {
    let rules = RuleSet::default();
    let out = run_both(
        &rules,
        &[
            submit(1, 0, "form#a"),
            submit(2, 5000, "form#b"),
            submit(3, 10_000, "form#a"),
            submit(4, 29_000, "form#a"),
        ],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::FormLoop, vec![1, 3, 4])]);
    assert_eq!((out[0].ts, out[0].end_ts, out[0].count), (0, 29_000, 3));
    // A navigation between them means the form worked.
    let out = run_both(
        &rules,
        &[submit(1, 0, "form#a"), submit(2, 1000, "form#a"), nav(3, 1500), submit(4, 2000, "form#a")],
    );
    assert!(out.is_empty(), "{out:?}");
    // Spread over more than 30 s: no loop.
    let out =
        run_both(&rules, &[submit(1, 0, "form#a"), submit(2, 20_000, "form#a"), submit(3, 40_000, "form#a")]);
    assert!(out.is_empty(), "{out:?}");
}

fn moves(start_seq: u64, start_ts: i64, xs: &[f64], step_ms: i64) -> Vec<Event> {
    xs.iter()
        .enumerate()
        .map(|(i, x)| {
            let (seq, ts) = (start_seq + i as u64, start_ts + i as i64 * step_ms);
            ev(json!({"t":"move","ts":ts,"seq":seq,"x":x,"y":300}))
        })
        .collect()
}

#[test]
fn thrashed_cursor_is_a_burst_of_horizontal_reversals() {
    let rules = RuleSet::default();
    // Swinging 100 px left and right every 100 ms: a reversal at every
    // turning point after the first leg.
    let zigzag: Vec<f64> = (0..14).map(|i| if i % 2 == 0 { 0.0 } else { 100.0 }).collect();
    let out = run_both(&rules, &moves(1, 0, &zigzag, 100));
    let thrash = only(&out, SignalKind::ThrashedCursor);
    assert_eq!(thrash.len(), 1, "{out:?}");
    // Turning points are samples 2..=13 (seqs 2..13): the last sample is not one.
    assert_eq!(thrash[0].count, 12);
    assert_eq!(thrash[0].evidence, (2..=13).collect::<Vec<u64>>());
    assert_eq!((thrash[0].ts, thrash[0].end_ts), (100, 1200));
    assert_eq!(thrash[0].sel, None);
    // Jitter under 20 px never reverses.
    let jitter: Vec<f64> = (0..30).map(|i| if i % 2 == 0 { 0.0 } else { 15.0 }).collect();
    assert!(run_both(&rules, &moves(1, 0, &jitter, 50)).is_empty());
    // The same swings spread out (one every 400 ms): never 10 within 2 s.
    assert!(run_both(&rules, &moves(1, 0, &zigzag, 400)).is_empty());
}

fn scroll(seq: u64, ts: i64, y: f64, vh: Option<f64>) -> Event {
    ev(json!({"t":"scroll","ts":ts,"seq":seq,"y":y,"vh":vh}))
}

#[test]
fn excessive_scroll_needs_reversals_of_half_a_viewport() {
    let rules = RuleSet::default();
    let ys = [0.0, 1000.0, 0.0, 1000.0, 0.0, 1000.0, 0.0];
    let seq_of = |vh: Option<f64>, leg: f64| -> Vec<Event> {
        ys.iter()
            .enumerate()
            .map(|(i, y)| scroll(i as u64 + 1, i as i64 * 500, y * leg / 1000.0, vh))
            .collect()
    };
    let out = run_both(&rules, &seq_of(Some(800.0), 1000.0));
    let s = only(&out, SignalKind::ExcessiveScroll);
    assert_eq!(s.len(), 1, "{out:?}");
    assert_eq!((s[0].count, s[0].evidence.clone()), (5, vec![2, 3, 4, 5, 6]));
    // Legs of 300 px in an 800 px viewport are reading, not searching.
    assert!(run_both(&rules, &seq_of(Some(800.0), 300.0)).is_empty());
    // Without a viewport height the legs cannot be judged.
    assert!(run_both(&rules, &seq_of(None, 1000.0)).is_empty());
}

fn nav_to(seq: u64, ts: i64, url: &str, how: &str) -> Event {
    ev(json!({"t":"nav","ts":ts,"seq":seq,"url":url,"nav":how}))
}

#[test]
fn u_turn_is_back_to_the_previous_page_within_five_seconds() {
    let rules = RuleSet::default();
    let (a, b) = ("https://s.io/list", "https://s.io/item/1");
    let out =
        run_both(&rules, &[nav_to(1, 0, a, "load"), nav_to(2, 1000, b, "push"), nav_to(3, 4000, a, "pop")]);
    assert_eq!(kinds(&out), vec![(SignalKind::UTurn, vec![2, 3])]);
    assert_eq!(
        (out[0].ts, out[0].end_ts, out[0].url.as_deref(), out[0].sel.clone()),
        (1000, 4000, Some(b), None)
    );
    // Too long a stay, going back somewhere else, or a forward move: none.
    assert!(run_both(
        &rules,
        &[nav_to(1, 0, a, "load"), nav_to(2, 1000, b, "push"), nav_to(3, 6001, a, "pop")]
    )
    .is_empty());
    let c = "https://s.io/other";
    assert!(run_both(
        &rules,
        &[nav_to(1, 0, a, "load"), nav_to(2, 1000, b, "push"), nav_to(3, 2000, c, "pop")]
    )
    .is_empty());
    assert!(run_both(
        &rules,
        &[nav_to(1, 0, a, "load"), nav_to(2, 1000, b, "push"), nav_to(3, 2000, a, "push")]
    )
    .is_empty());
    // A fragment-only change on B does not hide the u-turn.
    let out = run_both(
        &rules,
        &[
            nav_to(1, 0, a, "load"),
            nav_to(2, 1000, b, "push"),
            nav_to(3, 1500, "https://s.io/item/1#specs", "hash"),
            nav_to(4, 2000, a, "pop"),
        ],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::UTurn, vec![2, 4])]);
}

fn longtask(seq: u64, ts: i64, dur: u64) -> Event {
    ev(json!({"t":"longtask","ts":ts,"seq":seq,"dur":dur}))
}

#[test]
fn unresponsive_is_a_long_task_starting_soon_after_a_click() {
    let rules = RuleSet::default();
    let out = run_both(&rules, &[click(1, 0, 0.0, "b#go"), mutation(2, 10), longtask(3, 400, 1200)]);
    assert_eq!(kinds(&out), vec![(SignalKind::Unresponsive, vec![1, 3])]);
    assert_eq!((out[0].ts, out[0].end_ts), (0, 400));
    assert!(run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 10), longtask(3, 400, 999)]).is_empty());
    assert!(run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 10), longtask(3, 1001, 5000)]).is_empty());
}

fn error(seq: u64, ts: i64) -> Event {
    ev(json!({"t":"error","ts":ts,"seq":seq,"msg":"boom","kind":"error"}))
}

#[test]
fn a_rage_run_folds_its_errors_and_dead_clicks_into_one_signal_each() {
    let rules = RuleSet::default();
    // Four clicks, an error after the second, and no reaction at all.
    let events = [
        click(1, 0, 0.0, "b#x"),
        click(2, 200, 0.0, "b#x"),
        error(3, 300),
        click(4, 400, 0.0, "b#x"),
        click(5, 600, 0.0, "b#x"),
    ];
    let out = run_both(&rules, &events);
    assert_eq!(
        kinds(&out),
        vec![
            (SignalKind::DeadClick, vec![1, 2, 4, 5]),
            (SignalKind::ErrorClick, vec![1, 2, 3, 4, 5]),
            (SignalKind::RageClick, vec![1, 2, 4, 5]),
        ]
    );
    let e = only(&out, SignalKind::ErrorClick)[0];
    assert_eq!((e.ts, e.end_ts, e.count), (0, 300, 1));
    // Without folding, each verdict is its own signal.
    let mut c = Catalogue::default();
    c.rage_click.fold = false;
    let plain = RuleSet::Ufse(c);
    let out = run_both(&plain, &events);
    assert_eq!(
        kinds(&out),
        vec![
            (SignalKind::DeadClick, vec![1]),
            (SignalKind::RageClick, vec![1, 2, 4, 5]),
            (SignalKind::ErrorClick, vec![2, 3]),
        ]
    );
    // Two clicks are no rage run: the held error goes out as it is.
    let out = run_both(
        &rules,
        &[
            click(1, 0, 0.0, "b#x"),
            mutation(2, 50),
            click(3, 200, 0.0, "b#x"),
            mutation(4, 250),
            error(5, 300),
        ],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::ErrorClick, vec![3, 5])]);
}

#[test]
fn rule_state_survives_a_snapshot_mid_burst() {
    let rules = RuleSet::default();
    let zigzag: Vec<f64> = (0..14).map(|i| if i % 2 == 0 { 0.0 } else { 100.0 }).collect();
    let mut events = moves(1, 0, &zigzag, 100);
    events.extend([
        click(20, 2000, 0.0, "b"),
        click(21, 2100, 0.0, "b"),
        error(22, 2150),
        click(23, 2200, 0.0, "b"),
    ]);
    let whole = run(&rules, &events);
    for cut in 1..events.len() {
        let mut s = SessionEngine::new();
        let mut out = Vec::new();
        for e in &events[..cut] {
            s.on_event(&rules, "s", e, &mut out);
        }
        let mut s: SessionEngine = postcard_round_trip(&s);
        for e in &events[cut..] {
            s.on_event(&rules, "s", e, &mut out);
        }
        s.on_end(&rules, "s", &mut out);
        out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        assert_eq!(out, whole, "cut before event {cut}");
    }
}

/// Snapshots are postcard (see the sessionizer), a format that is not
/// self-describing: what JSON forgives, it does not.
fn postcard_round_trip(s: &SessionEngine) -> SessionEngine {
    postcard::from_bytes(&postcard::to_stdvec(s).unwrap()).unwrap()
}

/// Regression: a burst closed by session time before its next turning
/// point was confirmed split in two, and the second re-listed the first's
/// turning points.
#[test]
fn a_turning_point_confirmed_late_still_extends_its_burst() {
    let rules = RuleSet::default();
    let mut events: Vec<Event> = (0..6)
        .map(|i| scroll(i + 1, i as i64 * 1000, if i % 2 == 0 { 0.0 } else { 1000.0 }, Some(800.0)))
        .collect();
    events.push(scroll(7, 6900, 1100.0, Some(800.0)));
    events.push(scroll(8, 7100, 0.0, Some(800.0)));
    let out = run_both(&rules, &events);
    assert_eq!(kinds(&out), vec![(SignalKind::ExcessiveScroll, vec![2, 3, 4, 5, 7])]);
    assert_eq!((out[0].count, out[0].ts, out[0].end_ts), (5, 1000, 6900));
}

#[test]
fn scroll_positions_start_afresh_on_each_page() {
    let rules = RuleSet::default();
    let (list, item) = ("https://s.io/list", "https://s.io/item");
    let out = run_both(
        &rules,
        &[
            nav_to(1, 0, list, "load"),
            scroll(2, 500, 2000.0, Some(800.0)),
            nav_to(3, 1000, item, "push"),
            scroll(4, 1100, 0.0, Some(800.0)),
            scroll(5, 1600, 800.0, Some(800.0)),
            nav_to(6, 2000, list, "pop"),
            scroll(7, 2100, 2000.0, Some(800.0)),
            nav_to(8, 2500, item, "push"),
            scroll(9, 2600, 0.0, Some(800.0)),
        ],
    );
    assert!(only(&out, SignalKind::ExcessiveScroll).is_empty(), "{out:?}");
}

#[test]
fn form_loop_window_slides_over_older_submits() {
    let rules = RuleSet::default();
    let out = run_both(
        &rules,
        &[
            submit(1, 0, "form#a"),
            submit(2, 20_000, "form#a"),
            submit(3, 31_000, "form#a"),
            submit(4, 45_000, "form#a"),
        ],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::FormLoop, vec![2, 3, 4])]);
    assert_eq!((out[0].ts, out[0].end_ts, out[0].count), (20_000, 45_000, 3));
}

#[test]
fn u_turn_ignores_reloads_and_fragments() {
    let rules = RuleSet::default();
    let (a, b) = ("https://s.io/list", "https://s.io/item/1");
    let out = run_both(
        &rules,
        &[
            nav_to(1, 0, a, "load"),
            nav_to(2, 1000, b, "push"),
            nav_to(3, 1500, b, "reload"),
            nav_to(4, 2000, "https://s.io/list#top", "pop"),
        ],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::UTurn, vec![2, 4])]);
}

#[test]
fn failed_requests_find_their_trigger_and_forget_it_in_time() {
    let rules = RuleSet::default();
    // The request started at 1,000, before the second click: it is the first click's.
    let out = run_both(
        &rules,
        &[
            click(1, 0, 0.0, "b#a"),
            mutation(2, 10),
            click(3, 2000, 300.0, "b#b"),
            mutation(4, 2010),
            net(5, 3000, 500, 2000),
        ],
    );
    assert_eq!(kinds(&out), vec![(SignalKind::FailedRequest, vec![1, 5])]);
    // Reported after the look-back (5 s window + 30 s of request time): not tied to the click.
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(2, 10), net(3, 35_001, 500, 34_000)]);
    assert!(only(&out, SignalKind::FailedRequest).is_empty(), "{out:?}");
}

#[test]
fn the_fold_releases_everything_at_the_end_and_goes_idle() {
    let rules = RuleSet::default();
    // The session ends right after a rage run with an error in it.
    let out = run(
        &rules,
        &[
            click(1, 0, 0.0, "b"),
            error(2, 50),
            mutation(3, 60),
            click(4, 100, 0.0, "b"),
            click(5, 200, 0.0, "b"),
        ],
    );
    // (The mutation answered the first click only: the run was dead too.)
    assert_eq!(
        kinds(&out),
        vec![
            (SignalKind::DeadClick, vec![1, 4, 5]),
            (SignalKind::ErrorClick, vec![1, 2, 4, 5]),
            (SignalKind::RageClick, vec![1, 4, 5])
        ]
    );
    // Once session time has moved on past every window, no state is left.
    let zigzag: Vec<f64> = (0..14).map(|i| if i % 2 == 0 { 0.0 } else { 100.0 }).collect();
    let mut events = moves(1, 0, &zigzag, 100);
    events.extend([
        click(20, 2000, 0.0, "b"),
        click(21, 2100, 0.0, "b"),
        error(22, 2150),
        click(23, 2200, 0.0, "b"),
    ]);
    let mut s = SessionEngine::new();
    let mut out = Vec::new();
    for e in &events {
        s.on_event(&rules, "s", e, &mut out);
    }
    assert!(!s.is_idle());
    s.on_watermark(&rules, "s", 2200 + 60_000, &mut out);
    assert!(s.is_idle(), "{s:?}");
    assert_eq!(only(&out, SignalKind::ThrashedCursor).len(), 1);
    assert_eq!(only(&out, SignalKind::ErrorClick).len(), 1);
}

#[test]
fn an_endless_rage_run_keeps_bounded_evidence_and_an_exact_count() {
    let rules = RuleSet::default();
    let events: Vec<Event> = (0..2500).map(|i| click(i + 1, i as i64 * 100, 0.0, "b")).collect();
    let out = run(&rules, &events);
    let rage = only(&out, SignalKind::RageClick);
    assert_eq!(rage.len(), 1);
    assert_eq!(rage[0].count, 2500);
    assert_eq!(rage[0].evidence.len(), rules::MAX_EVIDENCE);
    assert_eq!(rage[0].end_ts, 249_900);
}

fn at(seq: u64, ts: i64, x: f64, y: f64, sel: &str) -> Event {
    ev(json!({"t":"click","ts":ts,"seq":seq,"x":x,"y":y,"sel":sel,"el":{"tag":"button"}}))
}

fn profile(name: &str) -> RuleSet {
    RuleSet::profile(name).unwrap()
}

#[test]
fn posthog_rage_fires_once_at_the_third_close_quick_click() {
    let ph = profile("posthog");
    // |dx|+|dy| = 29 each time, 999 ms apart: one signal, at the third click, not again at the fourth.
    let events = [
        at(1, 0, 0.0, 0.0, "b"),
        at(2, 999, 10.0, 19.0, "b"),
        at(3, 1998, 20.0, 38.0, "b"),
        at(4, 2997, 30.0, 57.0, "b"),
    ];
    let out = run_both(&ph, &events);
    assert_eq!(only(&out, SignalKind::RageClick).len(), 1, "{out:?}");
    let rage = only(&out, SignalKind::RageClick)[0];
    assert_eq!((rage.evidence.clone(), rage.count, rage.end_ts), (vec![1, 2, 3], 3, 1998));
    // Exactly 30 px (Manhattan) or exactly 1000 ms apart breaks the run.
    let far = [at(1, 0, 0.0, 0.0, "b"), at(2, 100, 15.0, 15.0, "b"), at(3, 200, 30.0, 30.0, "b")];
    assert!(only(&run_both(&ph, &far), SignalKind::RageClick).is_empty());
    let slow = [at(1, 0, 0.0, 0.0, "b"), at(2, 1000, 0.0, 0.0, "b"), at(3, 2000, 0.0, 0.0, "b")];
    assert!(only(&run_both(&ph, &slow), SignalKind::RageClick).is_empty());
    // A reset by distance starts a new run that fires again.
    let twice = [
        at(1, 0, 0.0, 0.0, "b"),
        at(2, 100, 0.0, 0.0, "b"),
        at(3, 200, 0.0, 0.0, "b"),
        at(4, 300, 500.0, 0.0, "b"),
        at(5, 400, 500.0, 0.0, "b"),
        at(6, 500, 500.0, 0.0, "b"),
    ];
    assert_eq!(only(&run_both(&ph, &twice), SignalKind::RageClick).len(), 2);
    // Inside .ph-no-rageclick or .ph-no-capture: ignored.
    for sel in ["div.ph-no-rageclick > button", "section.ph-no-capture > div > b"] {
        let events: Vec<Event> = (0..3).map(|i| at(i + 1, i as i64 * 100, 0.0, 0.0, sel)).collect();
        assert!(only(&run_both(&ph, &events), SignalKind::RageClick).is_empty(), "{sel}");
    }
}

#[test]
fn posthog_dead_click_thresholds_are_strict() {
    let ph = profile("posthog");
    let dead = |events: &[Event]| only(&run_both(&ph, events), SignalKind::DeadClick).len();
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), mutation(2, 2499)]), 0);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), mutation(2, 2500)]), 1);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), scroll(2, 99, 10.0, None)]), 0);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), scroll(2, 100, 10.0, None)]), 1);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), ev(json!({"t":"select","ts":99,"seq":2}))]), 0);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), ev(json!({"t":"select","ts":100,"seq":2}))]), 1);
    // A second click on the same element less than 1 s later is ignored.
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), click(2, 999, 300.0, "b")]), 1);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), click(2, 1000, 300.0, "b")]), 2);
    // Links, clicks inside links and html are never dead.
    let link = ev(json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"a#x","el":{"tag":"a","href":"/x"}}));
    let inside = ev(
        json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"a > span","el":{"tag":"span","in_link":true}}),
    );
    let html = ev(json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"html","el":{"tag":"html"}}));
    for e in [link, inside, html] {
        assert_eq!(dead(&[e]), 0);
    }
    // Only its own kinds: no error click, no slow click.
    let out = run_both(&ph, &[click(1, 0, 0.0, "b"), mutation(2, 1500), error(3, 1600)]);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn openreplay_rage_is_three_quick_clicks_with_one_label() {
    let or = profile("openreplay");
    let buy = |seq, ts, sel: &str| {
        ev(json!({"t":"click","ts":ts,"seq":seq,"x":0,"y":0,"sel":sel,"el":{"tag":"button"},"txt":"Buy"}))
    };
    // Same label on different elements, 299 ms apart: rage.
    let out = run_both(&or, &[buy(1, 0, "b#a"), buy(2, 299, "b#b"), buy(3, 598, "b#a")]);
    assert_eq!(only(&out, SignalKind::RageClick).len(), 1);
    assert_eq!(only(&out, SignalKind::RageClick)[0].evidence, vec![1, 2, 3]);
    // 300 ms is too slow; without a label the selector is the label.
    assert!(only(
        &run_both(&or, &[buy(1, 0, "b"), buy(2, 300, "b"), buy(3, 600, "b")]),
        SignalKind::RageClick
    )
    .is_empty());
    let out = run_both(&or, &[click(1, 0, 0.0, "b"), click(2, 100, 500.0, "b"), click(3, 200, 900.0, "b")]);
    assert_eq!(only(&out, SignalKind::RageClick).len(), 1);
}

#[test]
fn openreplay_dead_click_waits_1234_ms_for_a_mutation_or_input() {
    let or = profile("openreplay");
    let dead = |events: &[Event]| only(&run_both(&or, events), SignalKind::DeadClick).len();
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), mutation(2, 1234)]), 0);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), mutation(2, 1235)]), 1);
    assert_eq!(dead(&[click(1, 0, 0.0, "b"), ev(json!({"t":"input","ts":500,"seq":2,"sel":"input#q"}))]), 0);
    let field = ev(
        json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"input#q","el":{"tag":"input","type":"checkbox"}}),
    );
    assert_eq!(dead(&[field]), 0);
}

#[test]
fn amplitude_rules() {
    let amp = profile("amplitude");
    let kinds_of = |events: &[Event]| kinds(&run_both(&amp, events));
    // Rage: four clicks on one element within a sliding second.
    let four: Vec<Event> =
        [0, 300, 600, 1000].iter().enumerate().map(|(i, &t)| at(i as u64 + 1, t, 0.0, 0.0, "b")).collect();
    let with_mutations: Vec<Event> = four.iter().cloned().chain([mutation(9, 1010)]).collect();
    let out = run_both(&amp, &with_mutations);
    assert_eq!(only(&out, SignalKind::RageClick)[0].evidence, vec![1, 2, 3, 4]);
    let late: Vec<Event> =
        [0, 300, 600, 1001].iter().enumerate().map(|(i, &t)| at(i as u64 + 1, t, 0.0, 0.0, "b")).collect();
    assert!(only(&run_both(&amp, &late), SignalKind::RageClick).is_empty());
    let mut reset = four.clone();
    reset.insert(2, ev(json!({"t":"select","ts":400,"seq":7})));
    assert!(only(&run_both(&amp, &reset), SignalKind::RageClick).is_empty());
    // Dead: at most one per 3 s.
    let out =
        kinds_of(&[click(1, 0, 0.0, "b#a"), click(2, 2000, 300.0, "b#b"), click(3, 3000, 600.0, "b#c")]);
    assert_eq!(out, vec![(SignalKind::DeadClick, vec![1]), (SignalKind::DeadClick, vec![3])]);
    assert!(kinds_of(&[click(1, 0, 0.0, "b"), nav(2, 3000)]).is_empty());
    // Error click: within 2 s, never after a link opening a new tab.
    assert_eq!(
        kinds_of(&[click(1, 0, 0.0, "b"), mutation(2, 10), error(3, 2000)]),
        vec![(SignalKind::ErrorClick, vec![1, 3])]
    );
    assert!(kinds_of(&[click(1, 0, 0.0, "b"), mutation(2, 10), error(3, 2001)]).is_empty());
    let blank = ev(
        json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"a","el":{"tag":"a","href":"/x","target":"_blank"}}),
    );
    assert!(kinds_of(&[blank, mutation(2, 10), error(3, 500)]).is_empty());
    // Thrashed cursor: ten changes of direction on one axis within 2 s, however short.
    let wiggle: Vec<f64> = (0..12).map(|i| if i % 2 == 0 { 100.0 } else { 103.0 }).collect();
    let out = run_both(&amp, &moves(1, 0, &wiggle, 100));
    assert_eq!(only(&out, SignalKind::ThrashedCursor).len(), 1, "{out:?}");
    assert_eq!(only(&out, SignalKind::ThrashedCursor)[0].count, 10);
}

#[test]
fn a_profile_emits_only_its_own_kinds() {
    // Everything the catalogue can see, in one session.
    let zigzag: Vec<f64> = (0..14).map(|i| if i % 2 == 0 { 0.0 } else { 100.0 }).collect();
    let mut events = moves(1, 0, &zigzag, 100);
    events.extend([
        click(20, 2000, 0.0, "b"),
        click(21, 2100, 0.0, "b"),
        error(22, 2150),
        click(23, 2200, 0.0, "b"),
        click(24, 2300, 0.0, "b"),
        longtask(25, 2400, 2000),
        mutation(26, 5500),
        submit(27, 9000, "form"),
        net(28, 9500, 503, 100),
        submit(29, 10_000, "form"),
        submit(30, 11_000, "form"),
    ]);
    for (name, allowed) in [
        ("posthog", &[SignalKind::RageClick, SignalKind::DeadClick][..]),
        ("openreplay", &[SignalKind::RageClick, SignalKind::DeadClick]),
        ("sentry", &[SignalKind::SlowClick, SignalKind::DeadClick, SignalKind::RageClick]),
        ("datadog", &[SignalKind::RageClick, SignalKind::DeadClick, SignalKind::ErrorClick]),
        (
            "amplitude",
            &[
                SignalKind::RageClick,
                SignalKind::DeadClick,
                SignalKind::ErrorClick,
                SignalKind::ThrashedCursor,
            ],
        ),
    ] {
        let out = run_both(&profile(name), &events);
        assert!(!out.is_empty(), "{name} saw nothing");
        assert!(out.iter().all(|s| allowed.contains(&s.kind)), "{name}: {out:?}");
    }
    let all = run_both(&RuleSet::default(), &events);
    assert!(
        all.iter().any(|s| s.kind == SignalKind::Unresponsive)
            && all.iter().any(|s| s.kind == SignalKind::FormLoop)
    );
}

#[test]
fn sentry_collapses_repeats_and_names_the_outcome() {
    let sentry = profile("sentry");
    let k = |events: &[Event]| kinds(&run_both(&sentry, events));
    // Fine: a mutation within 3 s, or a scroll within 300 ms.
    assert!(k(&[click(1, 0, 0.0, "b"), mutation(2, 3000)]).is_empty());
    assert!(k(&[click(1, 0, 0.0, "b"), scroll(2, 300, 10.0, None)]).is_empty());
    // Slow: the first mutation after 3 s but by 7 s; dead: nothing by 7 s.
    assert_eq!(k(&[click(1, 0, 0.0, "b"), mutation(2, 3001)]), vec![(SignalKind::SlowClick, vec![1])]);
    assert_eq!(k(&[click(1, 0, 0.0, "b"), mutation(2, 7000)]), vec![(SignalKind::SlowClick, vec![1])]);
    assert_eq!(k(&[click(1, 0, 0.0, "b"), mutation(2, 7001)]), vec![(SignalKind::DeadClick, vec![1])]);
    assert_eq!(
        k(&[click(1, 0, 0.0, "b"), scroll(2, 301, 10.0, None)]),
        vec![(SignalKind::DeadClick, vec![1])]
    );
    // Five clicks collapse into one dead click, which is also a rage click.
    let five: Vec<Event> = (0..5).map(|i| click(i + 1, i as i64 * 200, 0.0, "b")).collect();
    let out = run_both(&sentry, &five);
    assert_eq!(
        kinds(&out),
        vec![(SignalKind::DeadClick, vec![1, 2, 3, 4, 5]), (SignalKind::RageClick, vec![1, 2, 3, 4, 5])]
    );
    assert!(out.iter().all(|s| s.count == 5));
    let ends: Vec<i64> = out.iter().map(|s| s.end_ts).collect();
    assert_eq!(ends, vec![7000, 800], "dead: click + timeout; rage: the last click");
    // Four are no rage; a click 1 s after the first starts a new one.
    let four: Vec<Event> = (0..4).map(|i| click(i + 1, i as i64 * 200, 0.0, "b")).collect();
    assert_eq!(k(&four), vec![(SignalKind::DeadClick, vec![1, 2, 3, 4])]);
    assert_eq!(k(&[click(1, 0, 0.0, "b"), click(2, 1000, 0.0, "b")]).len(), 2);
    // Only a, button and input[type=submit|button]; not a[download] nor a[target=_blank].
    let on = |el: serde_json::Value| ev(json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"x","el":el}));
    assert_eq!(k(&[on(json!({"tag":"input","type":"submit"}))]).len(), 1);
    assert_eq!(k(&[on(json!({"tag":"a","href":"/x"}))]).len(), 1);
    for el in [
        json!({"tag":"div"}),
        json!({"tag":"input","type":"text"}),
        json!({"tag":"a","href":"/f","download":true}),
        json!({"tag":"a","href":"/x","target":"_blank"}),
    ] {
        assert!(k(&[on(el.clone())]).is_empty(), "{el}");
    }
}

#[test]
fn datadog_rage_chains_and_its_exceptions() {
    let dd = profile("datadog");
    let rage = |events: &[Event]| only(&run_both(&dd, events), SignalKind::RageClick).len();
    // Same selector, within 100 px, three within a second: rage.
    assert_eq!(rage(&[at(1, 0, 0.0, 0.0, "b"), at(2, 400, 60.0, 0.0, "b"), at(3, 800, 60.0, 80.0, "b")]), 1);
    // Three spanning 1.2 s, a selector change, or more than 100 px: no rage.
    assert_eq!(rage(&[at(1, 0, 0.0, 0.0, "b"), at(2, 600, 0.0, 0.0, "b"), at(3, 1200, 0.0, 0.0, "b")]), 0);
    assert_eq!(rage(&[at(1, 0, 0.0, 0.0, "b"), at(2, 100, 0.0, 0.0, "c"), at(3, 200, 0.0, 0.0, "b")]), 0);
    assert_eq!(rage(&[at(1, 0, 0.0, 0.0, "b"), at(2, 100, 101.0, 0.0, "b"), at(3, 200, 202.0, 0.0, "b")]), 0);
    // A scroll or a selection change in the chain: the user is reading.
    assert_eq!(
        rage(&[
            at(1, 0, 0.0, 0.0, "b"),
            scroll(2, 50, 300.0, None),
            at(3, 100, 0.0, 0.0, "b"),
            at(4, 200, 0.0, 0.0, "b")
        ]),
        0
    );
}

#[test]
fn datadog_dead_and_error_clicks_follow_the_action() {
    let dd = profile("datadog");
    let k = |events: &[Event]| kinds(&run_both(&dd, events));
    // Activity within 100 ms keeps a click alive; a request starting in time counts when it ends.
    assert!(k(&[click(1, 0, 0.0, "b"), mutation(2, 100)]).is_empty());
    assert_eq!(k(&[click(1, 0, 0.0, "b"), mutation(2, 101)]), vec![(SignalKind::DeadClick, vec![1])]);
    assert!(k(&[click(1, 0, 0.0, "b"), net(2, 5000, 200, 4950)]).is_empty());
    // Typing during the action excuses it; typing after it ended does not.
    let input = |seq, ts| ev(json!({"t":"input","ts":ts,"seq":seq,"sel":"input#q"}));
    assert!(k(&[click(1, 0, 0.0, "b"), input(2, 50)]).is_empty());
    assert_eq!(k(&[click(1, 0, 0.0, "b"), input(2, 500)]), vec![(SignalKind::DeadClick, vec![1])]);
    // Never dead: canvas, links and what is inside them, fields.
    for el in [
        json!({"tag":"canvas"}),
        json!({"tag":"a","href":"/x"}),
        json!({"tag":"span","in_link":true}),
        json!({"tag":"textarea"}),
    ] {
        let e = ev(json!({"t":"click","ts":0,"seq":1,"x":0,"y":0,"sel":"x","el":el}));
        assert!(k(&[e]).is_empty(), "{el}");
    }
    // Activity at 80 and 170 ms keeps the action going until 270 ms: an error at 250 is in it, at 300 not.
    let with_error = |t| k(&[click(1, 0, 0.0, "b"), mutation(2, 80), mutation(3, 170), error(4, t)]);
    assert_eq!(with_error(250), vec![(SignalKind::ErrorClick, vec![1, 4])]);
    assert!(with_error(300).is_empty());
    // A rage chain folds its dead clicks and errors into one each.
    let out =
        k(&[at(1, 0, 0.0, 0.0, "b"), at(2, 200, 0.0, 0.0, "b"), error(3, 250), at(4, 400, 0.0, 0.0, "b")]);
    assert_eq!(
        out,
        vec![
            (SignalKind::DeadClick, vec![1, 2, 4]),
            (SignalKind::ErrorClick, vec![1, 2, 3, 4]),
            (SignalKind::RageClick, vec![1, 2, 4]),
        ]
    );
}

#[test]
fn a_blocked_page_reacting_late_is_slow_not_dead() {
    let rules = RuleSet::default();
    // The main thread is blocked from 200 ms to 3.2 s; the page reacts at 3.25 s.
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), longtask(2, 200, 3000), mutation(3, 3250)]);
    assert_eq!(kinds(&out), vec![(SignalKind::SlowClick, vec![1]), (SignalKind::Unresponsive, vec![1, 2])]);
    // Without the long task the same reaction is too late: dead.
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), mutation(3, 3250)]);
    assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1])]);
    // Blocking extends the window by at most one more window.
    let out = run_both(&rules, &[click(1, 0, 0.0, "b"), longtask(2, 100, 9000), mutation(3, 6001)]);
    assert_eq!(only(&out, SignalKind::DeadClick)[0].end_ts, 6000);
}

/// Regressions from a review of the peer profiles against their wording.
#[test]
fn peer_profiles_to_the_letter() {
    let on = |seq: u64, ts: i64, sel: &str, el: serde_json::Value| {
        ev(json!({"t":"click","ts":ts,"seq":seq,"x":0,"y":0,"sel":sel,"el":el}))
    };
    // PostHog: a click inside an <a> without href is still inside an <a>.
    let span = on(1, 0, "nav > a.tab > span", json!({"tag":"span"}));
    assert!(run_both(&profile("posthog"), &[span]).is_empty());

    let dd = profile("datadog");
    // Datadog: a scroll after the chain's last click is not in the chain.
    let chain = [
        at(1, 0, 0.0, 0.0, "b"),
        at(2, 100, 0.0, 0.0, "b"),
        at(3, 200, 0.0, 0.0, "b"),
        scroll(4, 700, 900.0, None),
    ];
    assert_eq!(only(&run_both(&dd, &chain), SignalKind::RageClick).len(), 1);
    // ... and an error during two overlapping actions counts for both.
    let out = run_both(
        &dd,
        &[
            click(1, 0, 0.0, "b#a"),
            mutation(2, 80),
            mutation(3, 170),
            click(4, 200, 500.0, "b#b"),
            mutation(5, 210),
            error(6, 250),
        ],
    );
    assert_eq!(
        only(&out, SignalKind::ErrorClick).iter().map(|s| s.evidence.clone()).collect::<Vec<_>>(),
        vec![vec![1, 6], vec![4, 6]]
    );

    // Sentry: an empty target is a target other than _self.
    assert!(
        run_both(&profile("sentry"), &[on(1, 0, "a", json!({"tag":"a","href":"/x","target":""}))]).is_empty()
    );

    let amp = profile("amplitude");
    // Amplitude: a click elsewhere does not break a run on an element.
    let out = run_both(
        &amp,
        &[
            at(1, 0, 0.0, 0.0, "b#a"),
            at(2, 100, 0.0, 0.0, "b#b"),
            at(3, 200, 0.0, 0.0, "b#a"),
            at(4, 300, 0.0, 0.0, "b#a"),
            at(5, 400, 0.0, 0.0, "b#a"),
        ],
    );
    assert_eq!(only(&out, SignalKind::RageClick)[0].evidence, vec![1, 3, 4, 5]);
    // ... and an error after a new-tab link belongs to the click before it.
    let blank = on(2, 500, "a.out", json!({"tag":"a","href":"https://x","target":"_blank"}));
    let out = run_both(&amp, &[click(1, 0, 0.0, "b"), mutation(9, 10), blank, error(3, 1000)]);
    assert_eq!(
        kinds(&only(&out, SignalKind::ErrorClick).into_iter().cloned().collect::<Vec<_>>()),
        vec![(SignalKind::ErrorClick, vec![1, 3])]
    );

    // OpenReplay: labels as sent; " Buy" is not "Buy".
    let buy = |seq, ts, txt: &str| {
        ev(json!({"t":"click","ts":ts,"seq":seq,"x":0,"y":0,"sel":"b","el":{"tag":"button"},"txt":txt}))
    };
    assert!(only(
        &run_both(&profile("openreplay"), &[buy(1, 0, " Buy"), buy(2, 100, "Buy"), buy(3, 200, " Buy")]),
        SignalKind::RageClick
    )
    .is_empty());
}
