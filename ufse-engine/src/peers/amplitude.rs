//! The `amplitude` profile (Amplitude's frustration analytics): rage, dead
//! and error clicks and thrashed cursor.
//!
//! - Rage: `min_clicks` (4) clicks on the same element within a sliding
//!   `window_ms` (1000); one signal per run of clicks on that element
//!   (clicks elsewhere in between do not break it); a selection change
//!   resets every run.
//! - Dead: no mutation or navigation within `window_ms` (3000) of the
//!   click; at most one dead click per `cooldown_ms` (3000) per session.
//! - Error click: an error within `window_ms` (2000) of the most recent
//!   click that was not on `a[target=_blank]`.
//! - Thrashed cursor: `min_changes` (10) or more changes of direction on one
//!   axis within `window_ms` (2000); each axis is judged, and reported, on
//!   its own.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::Waiting;
use crate::config::{check_ms, ReversalsConfig, RulesError};
use crate::rules::{Capped, Click, ClickRef, Emit, Reversals, Sample};
use crate::SignalKind;

/// Rage-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RageRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Clicks on one element within the window that make rage.
    pub min_clicks: u32,
    /// The sliding window.
    pub window_ms: i64,
}

impl Default for RageRules {
    fn default() -> Self {
        RageRules { enabled: true, min_clicks: 4, window_ms: 1000 }
    }
}

/// Dead-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// A mutation or navigation within this long after the click makes it alive.
    pub window_ms: i64,
    /// After a dead click, no other for this long.
    pub cooldown_ms: i64,
}

impl Default for DeadRules {
    fn default() -> Self {
        DeadRules { enabled: true, window_ms: 3000, cooldown_ms: 3000 }
    }
}

/// Error-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Longest delay from the click to the error.
    pub window_ms: i64,
}

impl Default for ErrorRules {
    fn default() -> Self {
        ErrorRules { enabled: true, window_ms: 2000 }
    }
}

/// Thrashed-cursor parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrashRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Changes of direction on one axis within the window.
    pub min_changes: u32,
    /// The window.
    pub window_ms: i64,
}

impl Default for ThrashRules {
    fn default() -> Self {
        ThrashRules { enabled: true, min_changes: 10, window_ms: 2000 }
    }
}

impl ThrashRules {
    /// As reversals: any movement back counts, however short.
    fn reversals(&self) -> ReversalsConfig {
        ReversalsConfig {
            enabled: self.enabled,
            min_reversals: self.min_changes,
            window_ms: self.window_ms,
            min_leg_px: f64::MIN_POSITIVE,
            min_leg_viewports: 0.0,
        }
    }
}

/// The `amplitude` profile's parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Rage clicks.
    pub rage_click: RageRules,
    /// Dead clicks.
    pub dead_click: DeadRules,
    /// Error clicks.
    pub error_click: ErrorRules,
    /// Thrashed cursor.
    pub thrashed_cursor: ThrashRules,
}

impl Rules {
    pub(crate) fn validate(&self) -> Result<(), RulesError> {
        if self.rage_click.min_clicks < 2 {
            return Err(RulesError::Invalid { key: "rage_click.min_clicks", why: "must be at least 2" });
        }
        if self.thrashed_cursor.min_changes < 1 {
            return Err(RulesError::Invalid {
                key: "thrashed_cursor.min_changes",
                why: "must be at least 1",
            });
        }
        check_ms(self.rage_click.window_ms, "rage_click.window_ms", false)?;
        check_ms(self.dead_click.window_ms, "dead_click.window_ms", false)?;
        check_ms(self.dead_click.cooldown_ms, "dead_click.cooldown_ms", true)?;
        check_ms(self.error_click.window_ms, "error_click.window_ms", false)?;
        check_ms(self.thrashed_cursor.window_ms, "thrashed_cursor.window_ms", false)
    }
}

/// Consecutive clicks on one element, each within the window of the
/// previous; rage once some `min_clicks` of them fit in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    first: ClickRef,
    recent: VecDeque<i64>,
    last_ts: i64,
    seqs: Capped<u64>,
    rage: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Open runs, one per element.
    runs: Vec<Run>,
    dead: Waiting,
    last_dead: Option<i64>,
    /// Clicks an error could still belong to (not on `a[target=_blank]`).
    clicks: VecDeque<ClickRef>,
    x: Reversals,
    y: Reversals,
}

impl State {
    pub fn is_idle(&self) -> bool {
        self.runs.is_empty()
            && self.dead.is_idle()
            && self.clicks.is_empty()
            && self.x.is_idle()
            && self.y.is_idle()
    }

    pub fn on_event(
        &mut self,
        r: &Rules,
        ev: &Event,
        click: Option<&Click<'_>>,
        page: Option<&str>,
        emit: &mut Emit<'_>,
    ) {
        let window = r.dead_click.window_ms;
        match &ev.body {
            Body::Mutation { .. } | Body::Nav { .. } => {
                self.dead.react(|c| ev.ts >= c && ev.ts - c <= window)
            }
            Body::Select => self.close(emit),
            Body::Error(_) if r.error_click.enabled => {
                if let Some(c) = self.clicks.back().filter(|c| ev.ts - c.ts <= r.error_click.window_ms) {
                    emit.signal(SignalKind::ErrorClick, c, ev.ts, 1, vec![c.seq, ev.seq]);
                }
            }
            Body::Move { x, y } if r.thrashed_cursor.enabled => {
                let cfg = r.thrashed_cursor.reversals();
                let leg = cfg.min_leg_px;
                self.x.on_sample(
                    SignalKind::ThrashedCursor,
                    &cfg,
                    Sample { ts: ev.ts, seq: ev.seq, pos: *x, leg },
                    page,
                    emit,
                );
                self.y.on_sample(
                    SignalKind::ThrashedCursor,
                    &cfg,
                    Sample { ts: ev.ts, seq: ev.seq, pos: *y, leg },
                    page,
                    emit,
                );
            }
            _ => {}
        }
        let Some(c) = click else { return };
        if r.rage_click.enabled {
            self.rage(&r.rage_click, c, emit);
        }
        if r.dead_click.enabled {
            self.dead.push(c.to_ref());
        }
        let blank = c.el.tag.as_deref() == Some("a") && c.el.target.as_deref() == Some("_blank");
        if !blank {
            self.clicks.push_back(c.to_ref());
        }
    }

    fn rage(&mut self, r: &RageRules, c: &Click<'_>, emit: &mut Emit<'_>) {
        let ts = c.ev.ts;
        if let Some(i) = self.runs.iter().position(|run| *run.first.sel == *c.sel()) {
            if ts - self.runs[i].last_ts > r.window_ms {
                let run = self.runs.remove(i);
                Self::emit_run(run, emit);
            }
        }
        let run = match self.runs.iter().position(|run| *run.first.sel == *c.sel()) {
            Some(i) => &mut self.runs[i],
            None => {
                self.runs.push(Run {
                    first: c.to_ref(),
                    recent: VecDeque::new(),
                    last_ts: ts,
                    seqs: Capped::default(),
                    rage: false,
                });
                self.runs.last_mut().expect("just pushed")
            }
        };
        run.last_ts = ts;
        run.seqs.push(c.ev.seq);
        run.recent.push_back(ts);
        while run.recent.front().is_some_and(|&t| ts - t > r.window_ms) {
            run.recent.pop_front();
        }
        run.rage |= run.recent.len() >= r.min_clicks as usize;
    }

    fn emit_run(run: Run, emit: &mut Emit<'_>) {
        if run.rage {
            let count = run.seqs.count();
            emit.signal(SignalKind::RageClick, &run.first, run.last_ts, count, run.seqs.into_items());
        }
    }

    /// Closes every run (a selection change, or the end).
    fn close(&mut self, emit: &mut Emit<'_>) {
        for run in std::mem::take(&mut self.runs) {
            Self::emit_run(run, emit);
        }
    }

    pub fn advance(&mut self, r: &Rules, now: i64, emit: &mut Emit<'_>) {
        let window = r.rage_click.window_ms;
        let (done, open): (Vec<Run>, Vec<Run>) =
            std::mem::take(&mut self.runs).into_iter().partition(|run| now > run.last_ts + window);
        self.runs = open;
        for run in done {
            Self::emit_run(run, emit);
        }
        while self.clicks.front().is_some_and(|c| now > c.ts + r.error_click.window_ms) {
            self.clicks.pop_front();
        }
        let cfg = r.thrashed_cursor.reversals();
        self.x.advance(SignalKind::ThrashedCursor, &cfg, now, emit);
        self.y.advance(SignalKind::ThrashedCursor, &cfg, now, emit);
        self.settle(r, Some(now), emit);
    }

    pub fn end(&mut self, r: &Rules, emit: &mut Emit<'_>) {
        self.close(emit);
        self.clicks.clear();
        self.x.close(SignalKind::ThrashedCursor, emit);
        self.y.close(SignalKind::ThrashedCursor, emit);
        self.settle(r, None, emit);
    }

    fn settle(&mut self, r: &Rules, now: Option<i64>, emit: &mut Emit<'_>) {
        let d = &r.dead_click;
        let last_dead = &mut self.last_dead;
        self.dead.settle(d.window_ms, now, |c, alive| {
            if alive || last_dead.is_some_and(|t| c.ts - t < d.cooldown_ms) {
                return;
            }
            *last_dead = Some(c.ts);
            emit.signal(SignalKind::DeadClick, &c, c.ts + d.window_ms, 1, vec![c.seq]);
        });
    }
}
