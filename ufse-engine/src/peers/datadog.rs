//! The `datadog` profile (Datadog RUM's frustration signals): rage, dead
//! and error clicks.
//!
//! - Clicks chain while they hit the same selector, lie within `radius_px`
//!   (100, Euclidean) of the previous click and come at most
//!   `max_interval_ms` (1000) after it. Rage: any `min_clicks` (3)
//!   consecutive clicks of the chain span at most `window_ms` (1000),
//!   unless a selection change or a scroll happened in the chain.
//! - Each click starts an action whose activity (a mutation, a nav, a
//!   request starting or ending) keeps it going: it ends `activity_ms`
//!   (100) after the last activity, at most `max_duration_ms` (10,000)
//!   after the click. Dead: no activity within `activity_ms` of the click,
//!   unless the user typed, scrolled or changed the selection during the
//!   action; never on text-like inputs, textareas, selects, editable
//!   content, `canvas`, or links (`a[href]`) and their children. Error: an
//!   error between the click and the end of its action (an error during
//!   two overlapping actions counts for both).
//! - A rage chain with a dead click also yields one `dead_click`, and one
//!   with an error one `error_click`, sharing the chain's clicks.
//!
//! Requests are reported when they end, so an action is decided
//! `net_grace_ms` (10,000) after its longest possible end; a request that
//! started in time but ends later than that is not seen as activity.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use crate::config::{check_ms, RulesError};
use crate::rules::{Capped, Click, ClickRef, Emit, Fold, Timing};
use crate::{Signal, SignalKind};

/// Rage-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RageRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Consecutive clicks of a chain are at most this far apart (Euclidean px).
    pub radius_px: f64,
    /// ... and at most this long apart.
    pub max_interval_ms: i64,
    /// Consecutive clicks that must fit in `window_ms`.
    pub min_clicks: u32,
    /// The span they must fit in.
    pub window_ms: i64,
}

impl Default for RageRules {
    fn default() -> Self {
        RageRules { enabled: true, radius_px: 100.0, max_interval_ms: 1000, min_clicks: 3, window_ms: 1000 }
    }
}

/// Action parameters, shared by dead and error clicks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionRules {
    /// Whether dead clicks are reported.
    pub dead_click: bool,
    /// Whether error clicks are reported.
    pub error_click: bool,
    /// An action ends this long after its last activity (and a click with
    /// no activity this soon is dead).
    pub activity_ms: i64,
    /// An action ends at most this long after its click.
    pub max_duration_ms: i64,
    /// How much longer to wait for requests reported when they end.
    pub net_grace_ms: i64,
}

impl Default for ActionRules {
    fn default() -> Self {
        ActionRules {
            dead_click: true,
            error_click: true,
            activity_ms: 100,
            max_duration_ms: 10_000,
            net_grace_ms: 10_000,
        }
    }
}

/// The `datadog` profile's parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Rage clicks.
    pub rage_click: RageRules,
    /// Click actions: dead and error clicks.
    pub action: ActionRules,
}

impl Rules {
    pub(crate) fn validate(&self) -> Result<(), RulesError> {
        let r = &self.rage_click;
        if r.min_clicks < 2 {
            return Err(RulesError::Invalid { key: "rage_click.min_clicks", why: "must be at least 2" });
        }
        check_ms(r.max_interval_ms, "rage_click.max_interval_ms", false)?;
        check_ms(r.window_ms, "rage_click.window_ms", false)?;
        let a = &self.action;
        check_ms(a.activity_ms, "action.activity_ms", false)?;
        check_ms(a.max_duration_ms, "action.max_duration_ms", false)?;
        check_ms(a.net_grace_ms, "action.net_grace_ms", true)
    }

    /// When an action started at `ts` is decided.
    fn decided_after(&self, ts: i64) -> i64 {
        ts + self.action.max_duration_ms + self.action.net_grace_ms
    }

    fn timing(&self) -> Timing {
        let a = &self.action;
        Timing { settle_ms: a.max_duration_ms + a.net_grace_ms, dead_window_ms: a.activity_ms }
    }
}

/// One click's action, until it is decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Action {
    click: ClickRef,
    /// Never dead (typing targets, canvas, links).
    exempt: bool,
    /// Page activity times, and user activity (typing, scrolling, selecting) times.
    activity: Vec<i64>,
    user: Vec<i64>,
    /// Errors after the click, before the next click: `(seq, ts)`.
    errors: Vec<(u64, i64)>,
}

impl Action {
    /// When the action ended: `activity_ms` after the last activity that
    /// kept it going, at most `max_duration_ms` after the click.
    fn end(&self, a: &ActionRules) -> i64 {
        let cap = self.click.ts + a.max_duration_ms;
        let mut times: Vec<i64> = self.activity.iter().copied().filter(|&t| t >= self.click.ts).collect();
        times.sort_unstable();
        let mut end = self.click.ts + a.activity_ms;
        for t in times {
            if t > end {
                break;
            }
            end = (t + a.activity_ms).min(cap);
        }
        end.min(cap)
    }
}

/// A chain of clicks and whether it can still be rage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chain {
    first: ClickRef,
    last: (i64, f64, f64),
    recent: VecDeque<i64>,
    seqs: Capped<u64>,
    rage: bool,
    /// A selection change or a scroll happened in the chain (between its
    /// clicks), or since its last click.
    spoiled: bool,
    since_last: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    chain: Option<Box<Chain>>,
    actions: VecDeque<Action>,
    fold: Fold,
}

impl State {
    pub fn is_idle(&self) -> bool {
        self.chain.is_none() && self.actions.is_empty() && self.fold.is_idle()
    }

    pub fn on_event(&mut self, r: &Rules, ev: &Event, click: Option<&Click<'_>>, emit: &mut Emit<'_>) {
        let from = emit.out.len();
        self.event(r, ev, click, emit);
        self.fold(r, Some(ev.ts), emit, from);
    }

    fn event(&mut self, r: &Rules, ev: &Event, click: Option<&Click<'_>>, emit: &mut Emit<'_>) {
        let horizon = |a: &Action| ev.ts <= a.click.ts + r.action.max_duration_ms;
        match &ev.body {
            Body::Mutation { .. } | Body::Nav { .. } => {
                for a in self.actions.iter_mut().filter(|a| horizon(a)) {
                    a.activity.push(ev.ts);
                }
            }
            Body::Net { dur, .. } => {
                let start = ev.ts - *dur as i64;
                for a in self.actions.iter_mut() {
                    for t in [start, ev.ts] {
                        if t >= a.click.ts && t <= a.click.ts + r.action.max_duration_ms {
                            a.activity.push(t);
                        }
                    }
                }
            }
            Body::Input { .. } | Body::Scroll { .. } | Body::Select => {
                for a in self.actions.iter_mut().filter(|a| horizon(a)) {
                    a.user.push(ev.ts);
                }
                if !matches!(ev.body, Body::Input { .. }) {
                    if let Some(c) = &mut self.chain {
                        c.since_last = true;
                    }
                }
            }
            // Every action still going may have caused it; each is judged
            // against its own end when decided.
            Body::Error(_) => {
                for a in self.actions.iter_mut().filter(|a| horizon(a)) {
                    a.errors.push((ev.seq, ev.ts));
                }
            }
            _ => {}
        }
        let Some(c) = click else { return };
        if r.rage_click.enabled {
            self.chain(&r.rage_click, c, emit);
        }
        let el = c.el;
        let exempt = el.is_text_like()
            || el.editable
            || el.tag.as_deref() == Some("canvas")
            || (el.tag.as_deref() == Some("a") && el.href.is_some())
            || el.in_link;
        self.actions.push_back(Action {
            click: c.to_ref(),
            exempt,
            activity: Vec::new(),
            user: Vec::new(),
            errors: Vec::new(),
        });
    }

    fn chain(&mut self, r: &RageRules, c: &Click<'_>, emit: &mut Emit<'_>) {
        let ts = c.ev.ts;
        let continues = self.chain.as_ref().is_some_and(|ch| {
            let (lts, x, y) = ch.last;
            *ch.first.sel == *c.sel()
                && (c.r.x - x).hypot(c.r.y - y) <= r.radius_px
                && ts - lts <= r.max_interval_ms
        });
        if !continues {
            self.close_chain(emit);
            self.chain = Some(Box::new(Chain {
                first: c.to_ref(),
                last: (ts, c.r.x, c.r.y),
                recent: VecDeque::new(),
                seqs: Capped::default(),
                rage: false,
                spoiled: false,
                since_last: false,
            }));
        }
        let ch = self.chain.as_mut().expect("a chain");
        // A scroll or selection change before this click lies inside the chain.
        ch.spoiled |= std::mem::take(&mut ch.since_last);
        ch.last = (ts, c.r.x, c.r.y);
        ch.seqs.push(c.ev.seq);
        ch.recent.push_back(ts);
        if ch.recent.len() > r.min_clicks as usize {
            ch.recent.pop_front();
        }
        ch.rage |= ch.recent.len() == r.min_clicks as usize && ts - ch.recent[0] <= r.window_ms;
    }

    fn close_chain(&mut self, emit: &mut Emit<'_>) {
        if let Some(ch) = self.chain.take() {
            if ch.rage && !ch.spoiled {
                emit.signal(
                    SignalKind::RageClick,
                    &ch.first,
                    ch.last.0,
                    ch.seqs.count(),
                    ch.seqs.into_items(),
                );
            }
        }
    }

    pub fn advance(&mut self, r: &Rules, now: i64, emit: &mut Emit<'_>) {
        let from = emit.out.len();
        if self.chain.as_ref().is_some_and(|ch| now > ch.last.0 + r.rage_click.max_interval_ms) {
            self.close_chain(emit);
        }
        self.decide(r, Some(now), emit);
        self.fold(r, Some(now), emit, from);
    }

    pub fn end(&mut self, r: &Rules, emit: &mut Emit<'_>) {
        let from = emit.out.len();
        self.close_chain(emit);
        self.decide(r, None, emit);
        self.fold(r, None, emit, from);
    }

    /// Decides every action no later report can change.
    fn decide(&mut self, r: &Rules, now: Option<i64>, emit: &mut Emit<'_>) {
        let a = &r.action;
        while let Some(act) = self.actions.front() {
            if now.is_some_and(|now| now <= r.decided_after(act.click.ts)) {
                break;
            }
            let act = self.actions.pop_front().expect("front exists");
            let c = &act.click;
            let end = act.end(a);
            let active = act.activity.iter().any(|&t| t >= c.ts && t <= c.ts + a.activity_ms);
            let user = act.user.iter().any(|&t| t >= c.ts && t <= end);
            if a.dead_click && !act.exempt && !active && !user {
                emit.signal(SignalKind::DeadClick, c, c.ts + a.activity_ms, 1, vec![c.seq]);
            }
            if a.error_click {
                for &(seq, ts) in act.errors.iter().filter(|e| e.1 <= end) {
                    emit.signal(SignalKind::ErrorClick, c, ts, 1, vec![c.seq, seq]);
                }
            }
        }
    }

    /// Folds a rage chain's dead and error clicks into one each.
    fn fold(&mut self, r: &Rules, now: Option<i64>, emit: &mut Emit<'_>, from: usize) {
        let open = self.chain.as_ref().map_or(&[][..], |c| c.seqs.items());
        let out: &mut Vec<Signal> = emit.out;
        self.fold.process(r.timing(), open, now, out, from);
    }
}
