//! The `openreplay` profile: rage and dead clicks.
//!
//! - Rage: `min_clicks` (3) or more consecutive clicks with the same label
//!   (`txt`, else the selector), each less than `max_interval_ms` (300)
//!   after the previous; one signal per run.
//! - Dead: no mutation or input within `window_ms` (1234) of the click;
//!   never on input targets (inputs, textareas, selects, editable content).

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::Waiting;
use crate::config::{check_ms, RulesError};
use crate::rules::{Capped, Click, ClickRef, Emit};
use crate::SignalKind;

/// Rage-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RageRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Clicks a run needs.
    pub min_clicks: u32,
    /// Consecutive clicks are less than this apart.
    pub max_interval_ms: i64,
}

impl Default for RageRules {
    fn default() -> Self {
        RageRules { enabled: true, min_clicks: 3, max_interval_ms: 300 }
    }
}

/// Dead-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// A mutation or input within this long after the click makes it alive.
    pub window_ms: i64,
}

impl Default for DeadRules {
    fn default() -> Self {
        DeadRules { enabled: true, window_ms: 1234 }
    }
}

/// The `openreplay` profile's parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Rage clicks.
    pub rage_click: RageRules,
    /// Dead clicks.
    pub dead_click: DeadRules,
}

impl Rules {
    pub(crate) fn validate(&self) -> Result<(), RulesError> {
        if self.rage_click.min_clicks < 2 {
            return Err(RulesError::Invalid { key: "rage_click.min_clicks", why: "must be at least 2" });
        }
        check_ms(self.rage_click.max_interval_ms, "rage_click.max_interval_ms", false)?;
        check_ms(self.dead_click.window_ms, "dead_click.window_ms", false)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    label: String,
    first: ClickRef,
    last_ts: i64,
    seqs: Capped<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    run: Option<Box<Run>>,
    dead: Waiting,
}

impl State {
    pub fn is_idle(&self) -> bool {
        self.run.is_none() && self.dead.is_idle()
    }

    pub fn on_event(&mut self, r: &Rules, ev: &Event, click: Option<&Click<'_>>, emit: &mut Emit<'_>) {
        let window = r.dead_click.window_ms;
        if let Body::Mutation { .. } | Body::Input { .. } = ev.body {
            self.dead.react(|c| ev.ts >= c && ev.ts - c <= window);
        }
        let Some(c) = click else { return };
        if r.rage_click.enabled {
            self.rage(&r.rage_click, c, emit);
        }
        let el = c.el;
        let input_target = el.editable || matches!(el.tag.as_deref(), Some("input" | "textarea" | "select"));
        if r.dead_click.enabled && !input_target {
            self.dead.push(c.to_ref());
        }
    }

    fn rage(&mut self, r: &RageRules, c: &Click<'_>, emit: &mut Emit<'_>) {
        let label = c.txt().unwrap_or(c.sel());
        let ts = c.ev.ts;
        let continues =
            self.run.as_ref().is_some_and(|run| run.label == label && ts - run.last_ts < r.max_interval_ms);
        if !continues {
            self.close(r, emit);
            self.run = Some(Box::new(Run {
                label: label.to_owned(),
                first: c.to_ref(),
                last_ts: ts,
                seqs: Capped::default(),
            }));
        }
        let run = self.run.as_mut().expect("a run");
        run.last_ts = ts;
        run.seqs.push(c.ev.seq);
    }

    fn close(&mut self, r: &RageRules, emit: &mut Emit<'_>) {
        if let Some(run) = self.run.take() {
            if run.seqs.count() >= r.min_clicks {
                let count = run.seqs.count();
                emit.signal(SignalKind::RageClick, &run.first, run.last_ts, count, run.seqs.into_items());
            }
        }
    }

    pub fn advance(&mut self, r: &Rules, now: i64, emit: &mut Emit<'_>) {
        if self.run.as_ref().is_some_and(|run| now >= run.last_ts + r.rage_click.max_interval_ms) {
            self.close(&r.rage_click, emit);
        }
        self.settle(r, Some(now), emit);
    }

    pub fn end(&mut self, r: &Rules, emit: &mut Emit<'_>) {
        self.close(&r.rage_click, emit);
        self.settle(r, None, emit);
    }

    fn settle(&mut self, r: &Rules, now: Option<i64>, emit: &mut Emit<'_>) {
        let window = r.dead_click.window_ms;
        self.dead.settle(window, now, |c, alive| {
            if !alive {
                emit.signal(SignalKind::DeadClick, &c, c.ts + window, 1, vec![c.seq]);
            }
        });
    }
}
