//! The `posthog` profile (posthog-js rageclick.ts and dead-clicks
//! autocapture): rage and dead clicks.
//!
//! - Rage: a run of clicks, each less than `threshold_px` (30) from the
//!   previous one by |dx|+|dy| and less than `timeout_ms` (1000) after it;
//!   it fires once, when the run reaches exactly `click_count` (3) clicks,
//!   and not again until the run resets by distance or time. Clicks inside
//!   `.ph-no-rageclick` or `.ph-no-capture` are ignored.
//! - Dead: a click is alive if a mutation follows less than `mutation_ms`
//!   (2500) after it, or a scroll or a selection change less than
//!   `scroll_ms` / `selection_ms` (100) after it; otherwise it is dead. A
//!   click on the same element less than `repeat_ms` (1000) from a click
//!   still waiting is ignored, as are clicks inside an `<a>` and on `html`.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::Waiting;
use crate::config::{check_ms, RulesError};
use crate::rules::{Click, ClickRef, Emit};
use crate::{SelectorList, SignalKind};

/// Rage-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RageRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Consecutive clicks are closer than this, as |dx|+|dy|.
    pub threshold_px: f64,
    /// Consecutive clicks are less than this apart.
    pub timeout_ms: i64,
    /// The run fires when it reaches exactly this many clicks.
    pub click_count: u32,
    /// Clicks inside these are ignored.
    pub ignore_selectors: SelectorList,
}

impl Default for RageRules {
    fn default() -> Self {
        RageRules {
            enabled: true,
            threshold_px: 30.0,
            timeout_ms: 1000,
            click_count: 3,
            ignore_selectors: SelectorList::new(&[".ph-no-rageclick", ".ph-no-capture"]),
        }
    }
}

/// Dead-click parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadRules {
    /// Whether the rule runs.
    pub enabled: bool,
    /// A mutation less than this after the click makes it alive.
    pub mutation_ms: i64,
    /// A scroll less than this after the click makes it alive.
    pub scroll_ms: i64,
    /// A selection change less than this after the click makes it alive.
    pub selection_ms: i64,
    /// A click on the element of a waiting click less than this from it is ignored.
    pub repeat_ms: i64,
}

impl Default for DeadRules {
    fn default() -> Self {
        DeadRules { enabled: true, mutation_ms: 2500, scroll_ms: 100, selection_ms: 100, repeat_ms: 1000 }
    }
}

/// The `posthog` profile's parameters.
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
        let r = &self.rage_click;
        if r.click_count < 1 {
            return Err(RulesError::Invalid { key: "rage_click.click_count", why: "must be at least 1" });
        }
        check_ms(r.timeout_ms, "rage_click.timeout_ms", false)?;
        let d = &self.dead_click;
        check_ms(d.mutation_ms, "dead_click.mutation_ms", false)?;
        check_ms(d.scroll_ms, "dead_click.scroll_ms", true)?;
        check_ms(d.selection_ms, "dead_click.selection_ms", true)?;
        check_ms(d.repeat_ms, "dead_click.repeat_ms", true)
    }

    /// How long a click waits for its verdict.
    fn dead_wait(&self) -> i64 {
        let d = &self.dead_click;
        d.mutation_ms.max(d.scroll_ms).max(d.selection_ms)
    }
}

/// Whether any level of a selector path is an `<a>`.
fn in_anchor(sel: &str) -> bool {
    sel.split('>').any(|level| {
        let level = level.trim();
        level == "a" || level.starts_with("a.") || level.starts_with("a#")
    })
}

/// A run of clicks: the first ones (until it fires), the last position and the count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    clicks: Vec<ClickRef>,
    last: (i64, f64, f64),
    count: u32,
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
        let d = &r.dead_click;
        match &ev.body {
            Body::Mutation { .. } => self.dead.react(|c| ev.ts >= c && ev.ts - c < d.mutation_ms),
            Body::Scroll { .. } => self.dead.react(|c| ev.ts >= c && ev.ts - c < d.scroll_ms),
            Body::Select => self.dead.react(|c| ev.ts >= c && ev.ts - c < d.selection_ms),
            _ => {}
        }
        let Some(c) = click else { return };
        if r.rage_click.enabled && !r.rage_click.ignore_selectors.matches(c.sel()) {
            self.rage(&r.rage_click, c, emit);
        }
        let tag = c.el.tag.as_deref();
        let ignored = tag == Some("html")
            || tag == Some("a")
            || c.el.in_link
            || in_anchor(c.sel())
            || self.dead.any(|w| *w.sel == *c.sel() && (c.ev.ts - w.ts).abs() < d.repeat_ms);
        if d.enabled && !ignored {
            self.dead.push(c.to_ref());
        }
    }

    fn rage(&mut self, r: &RageRules, c: &Click<'_>, emit: &mut Emit<'_>) {
        let ts = c.ev.ts;
        let continues = self.run.as_ref().is_some_and(|run| {
            let (lts, x, y) = run.last;
            (c.r.x - x).abs() + (c.r.y - y).abs() < r.threshold_px && ts - lts < r.timeout_ms
        });
        if !continues {
            self.run = Some(Box::new(Run { clicks: Vec::new(), last: (ts, c.r.x, c.r.y), count: 0 }));
        }
        let run = self.run.as_mut().expect("a run");
        run.last = (ts, c.r.x, c.r.y);
        run.count += 1;
        if run.count <= r.click_count {
            run.clicks.push(c.to_ref());
        }
        if run.count == r.click_count {
            let seqs = run.clicks.iter().map(|c| c.seq).collect();
            emit.signal(SignalKind::RageClick, &run.clicks[0], ts, run.count, seqs);
        }
    }

    pub fn advance(&mut self, r: &Rules, now: i64, emit: &mut Emit<'_>) {
        if self.run.as_ref().is_some_and(|run| now >= run.last.0 + r.rage_click.timeout_ms) {
            self.run = None;
        }
        self.settle(r, Some(now), emit);
    }

    pub fn end(&mut self, r: &Rules, emit: &mut Emit<'_>) {
        self.run = None;
        self.settle(r, None, emit);
    }

    fn settle(&mut self, r: &Rules, now: Option<i64>, emit: &mut Emit<'_>) {
        let wait = r.dead_wait();
        self.dead.settle(wait, now, |c, alive| {
            if !alive {
                emit.signal(SignalKind::DeadClick, &c, c.ts + wait, 1, vec![c.seq]);
            }
        });
    }
}
