//! The `sentry` profile (Sentry session replay's click detector): slow,
//! dead and rage clicks.
//!
//! - Only clicks on `a`, `button` and `input` of type `submit` or `button`
//!   count; `a[download]` and `a[target]` with a target other than `_self`
//!   are ignored.
//! - Clicks on one element less than `multi_click_ms` (1000) after the
//!   first of them collapse into one click whose `count` says how many
//!   landed.
//! - A click is fine if a mutation follows within `threshold_ms` (3000) or
//!   a scroll within `scroll_ms` (300); a first mutation later than that
//!   but within `timeout_ms` (7000) makes it a `slow_click`; nothing by
//!   then makes it a `dead_click`, and a dead click into which
//!   `rage_count` (5) or more clicks collapsed is also a `rage_click`.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use crate::config::{check_ms, RulesError};
use crate::rules::{Capped, Click, ClickRef, Emit};
use crate::SignalKind;

/// The `sentry` profile's parameters (one section, `[click]`: Sentry
/// judges every click once and names the outcome).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickRules {
    /// Whether the rules run.
    pub enabled: bool,
    /// Clicks on one element this soon after the first collapse into it.
    pub multi_click_ms: i64,
    /// A mutation within this long makes the click fine.
    pub threshold_ms: i64,
    /// A scroll within this long makes the click fine.
    pub scroll_ms: i64,
    /// A first mutation after `threshold_ms` but within this is slow;
    /// nothing by then is dead.
    pub timeout_ms: i64,
    /// A dead click with at least this many collapsed clicks is also rage.
    pub rage_count: u32,
}

impl Default for ClickRules {
    fn default() -> Self {
        ClickRules {
            enabled: true,
            multi_click_ms: 1000,
            threshold_ms: 3000,
            scroll_ms: 300,
            timeout_ms: 7000,
            rage_count: 5,
        }
    }
}

/// The `sentry` profile's parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Click outcomes.
    pub click: ClickRules,
}

impl Rules {
    pub(crate) fn validate(&self) -> Result<(), RulesError> {
        let c = &self.click;
        check_ms(c.multi_click_ms, "click.multi_click_ms", true)?;
        check_ms(c.threshold_ms, "click.threshold_ms", true)?;
        check_ms(c.scroll_ms, "click.scroll_ms", true)?;
        check_ms(c.timeout_ms, "click.timeout_ms", false)?;
        if c.timeout_ms < c.threshold_ms {
            return Err(RulesError::Invalid {
                key: "click.timeout_ms",
                why: "must not be less than threshold_ms",
            });
        }
        if c.rage_count < 2 {
            return Err(RulesError::Invalid { key: "click.rage_count", why: "must be at least 2" });
        }
        Ok(())
    }
}

/// A collapsed click waiting for its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    click: ClickRef,
    clicks: Capped<u64>,
    last_ts: i64,
    /// First mutation after it, and whether a scroll came in time.
    mutation: Option<i64>,
    scrolled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    pending: Vec<Pending>,
}

impl State {
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn on_event(&mut self, r: &Rules, ev: &Event, click: Option<&Click<'_>>) {
        let r = &r.click;
        if !r.enabled {
            return;
        }
        match &ev.body {
            Body::Mutation { .. } => {
                for p in &mut self.pending {
                    if ev.ts >= p.click.ts && p.mutation.is_none() {
                        p.mutation = Some(ev.ts);
                    }
                }
            }
            Body::Scroll { .. } => {
                for p in &mut self.pending {
                    p.scrolled |= ev.ts >= p.click.ts && ev.ts - p.click.ts <= r.scroll_ms;
                }
            }
            _ => {}
        }
        let Some(c) = click.filter(|c| counts(c)) else { return };
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| *p.click.sel == *c.sel() && c.ev.ts - p.click.ts < r.multi_click_ms)
        {
            p.last_ts = c.ev.ts;
            p.clicks.push(c.ev.seq);
            return;
        }
        let mut clicks = Capped::default();
        clicks.push(c.ev.seq);
        self.pending.push(Pending {
            click: c.to_ref(),
            clicks,
            last_ts: c.ev.ts,
            mutation: None,
            scrolled: false,
        });
    }

    pub fn advance(&mut self, r: &Rules, now: i64, emit: &mut Emit<'_>) {
        self.settle(&r.click, Some(now), emit);
    }

    pub fn end(&mut self, r: &Rules, emit: &mut Emit<'_>) {
        self.settle(&r.click, None, emit);
    }

    fn settle(&mut self, r: &ClickRules, now: Option<i64>, emit: &mut Emit<'_>) {
        // Pending clicks are in time order; each is decided once its timeout has passed.
        let n =
            self.pending.iter().take_while(|p| now.is_none_or(|now| now > p.click.ts + r.timeout_ms)).count();
        for p in self.pending.drain(..n) {
            let c = &p.click;
            let count = p.clicks.count();
            let after = p.mutation.map(|m| m - c.ts);
            if p.scrolled || after.is_some_and(|a| a <= r.threshold_ms) {
                continue;
            }
            match after {
                Some(a) if a <= r.timeout_ms => {
                    emit.signal(SignalKind::SlowClick, c, p.last_ts, count, p.clicks.into_items());
                }
                _ => {
                    let seqs = p.clicks.into_items();
                    if count >= r.rage_count {
                        emit.signal(SignalKind::RageClick, c, p.last_ts, count, seqs.clone());
                    }
                    emit.signal(SignalKind::DeadClick, c, c.ts + r.timeout_ms, count, seqs);
                }
            }
        }
    }
}

/// Whether Sentry looks at a click at all.
fn counts(c: &Click<'_>) -> bool {
    let el = c.el;
    match el.tag.as_deref() {
        Some("button") => true,
        Some("input") => matches!(el.r#type.as_deref(), Some("submit" | "button")),
        Some("a") => !el.download && el.target.as_deref().is_none_or(|t| t == "_self"),
        _ => false,
    }
}
