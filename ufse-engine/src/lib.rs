//! The UFSE rule engine: Stream -> Window -> Evaluate -> Emit.
//!
//! This crate owns frustration detection. It is synchronous and pure: a
//! session's events come in `(ts, seq)` order together with watermarks (the
//! session's own client time), and signals come out. Nothing here reads a
//! clock, so the same input always gives the same signals, whether in
//! `ufse detect`, in `ufse serve` or in a replay.
//!
//! - [`RuleSet`]: every rule's parameters, from a TOML rules file with defaults.
//! - [`SessionEngine`]: one session's rule state; snapshot it with serde.
//! - [`Signal`], [`SignalKind`]: what the rules emit.
//! - [`SelectorList`]: "ignore selectors" matched against click paths.

mod config;
mod rules;
mod selector;
mod signal;

pub use config::{DeadClickConfig, ErrorClickConfig, RageClickConfig, RuleSet, RulesError, PROFILES};
pub use selector::SelectorList;
pub use signal::{Signal, SignalKind};

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use rules::{Click, DeadClick, Emit, ErrorClick, RageClick};

/// The rule state of one session. Feed it the session's events in
/// `(ts, seq)` order; it never looks at another session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionEngine {
    /// The current page: the `url` of the last `nav`.
    page: Option<Box<str>>,
    rage: RageClick,
    dead: DeadClick,
    error: ErrorClick,
}

impl SessionEngine {
    /// A fresh session.
    pub fn new() -> Self {
        Self::default()
    }

    /// The state for the next part of the same session: every window is
    /// gone, but the page stays (events without a `url` still belong to the
    /// last `nav`).
    pub fn next_part(&self) -> Self {
        SessionEngine { page: self.page.clone(), ..SessionEngine::default() }
    }

    /// The current page (the last `nav`'s `url`), which events without a
    /// `url` of their own belong to.
    pub fn page(&self) -> Option<&str> {
        self.page.as_deref()
    }

    /// Evaluates one event. Session time first advances to `ev.ts`, closing
    /// every window that ends before it.
    pub fn on_event(&mut self, rules: &RuleSet, sid: &str, ev: &Event, out: &mut Vec<Signal>) {
        self.on_watermark(rules, sid, ev.ts, out);
        if let Body::Nav { .. } = ev.body {
            self.page = ev.url.as_deref().map(Box::from);
        }
        let click = Click::of(ev, self.page.as_deref());
        let mut emit = Emit { sid, out };
        if rules.rage_click.enabled {
            self.rage.on_event(&rules.rage_click, ev, click.as_ref(), &mut emit);
        }
        if rules.dead_click.enabled {
            self.dead.on_event(&rules.dead_click, ev, click.as_ref(), &mut emit);
        }
        if rules.error_click.enabled {
            self.error.on_event(&rules.error_click, ev, click.as_ref(), &mut emit);
        }
    }

    /// Session time has reached `now` (no later event can come before it):
    /// closes the windows that end before it.
    pub fn on_watermark(&mut self, rules: &RuleSet, sid: &str, now: i64, out: &mut Vec<Signal>) {
        let mut emit = Emit { sid, out };
        self.rage.advance(&rules.rage_click, now, &mut emit);
        self.dead.advance(&rules.dead_click, now, &mut emit);
        self.error.advance(&rules.error_click, now);
    }

    /// The session (or the input) ended: closes every open window.
    pub fn on_end(&mut self, rules: &RuleSet, sid: &str, out: &mut Vec<Signal>) {
        let mut emit = Emit { sid, out };
        self.rage.close(&rules.rage_click, &mut emit);
        self.dead.flush(&rules.dead_click, &mut emit);
        self.error = ErrorClick::default();
    }

    /// No window is open: ending the session now would emit nothing.
    pub fn is_idle(&self) -> bool {
        self.rage.is_idle() && self.dead.is_idle() && self.error.is_idle()
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(out[0].kind, SignalKind::RageClick);
        assert_eq!(out[0].count, 4);
        assert_eq!(out[0].evidence, vec![2, 4, 5, 6]);
        assert_eq!((out[0].ts, out[0].end_ts), (100, 1700));
        assert_eq!(out[0].url.as_deref(), Some("https://shop.example.com/cart"));
        assert!(out.iter().all(|s| s.kind != SignalKind::RageClick || s.evidence.len() == 4));
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
    }

    #[test]
    fn clicks_on_text_inputs_are_transparent_to_rage() {
        let rules = RuleSet::default();
        let input = ev(
            json!({"t":"click","ts":150,"seq":3,"x":0,"y":100,"sel":"input#q","el":{"tag":"input","type":"text"}}),
        );
        let out =
            run(&rules, &[click(1, 0, 0.0, "b"), click(2, 100, 0.0, "b"), input, click(4, 200, 0.0, "b")]);
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
        assert!(run(&rules, &[nav(1, 0), click(2, 1000, 0.0, "b"), net]).is_empty());
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
        let canvas =
            ev(json!({"t":"click","ts":5000,"seq":2,"x":0,"y":0,"sel":"canvas","el":{"tag":"canvas"}}));
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
        let out =
            run(&rules, &[click(1, 0, 0.0, "b#x"), click(2, 200, 500.0, "b#y"), click(3, 500, 0.0, "b#x")]);
        assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1]), (SignalKind::DeadClick, vec![2])]);
        // 100 px apart, so the chain is no rage run.
        let chain: Vec<Event> =
            (0..4).map(|i| click(i + 1, i as i64 * 900, i as f64 * 100.0, "b#x")).collect();
        let out = run(&rules, &chain);
        assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![1]), (SignalKind::DeadClick, vec![3])]);
        // The first click got its reaction; the repeat did not: the repeat is dead.
        let out = run(&rules, &[click(1, 0, 0.0, "b#x"), mutation(2, 100), click(3, 500, 0.0, "b#x")]);
        assert_eq!(kinds(&out), vec![(SignalKind::DeadClick, vec![3])]);
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
}
