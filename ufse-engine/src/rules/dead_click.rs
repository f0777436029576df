//! `dead_click`: a click that gets no reaction within the window; and
//! `slow_click`, a click whose first reaction comes late but within it.
//! Both judge the same clicks against the same reactions.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event, Visibility};

use super::{Click, ClickRef, Emit};
use crate::config::{DeadClickConfig, SlowClickConfig};
use crate::SignalKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    click: ClickRef,
    /// Earliest reaction in the window so far (requests are reported when
    /// they end, so reactions do not arrive in time order).
    reaction: Option<i64>,
    /// Earliest reaction the user could see (anything but a request).
    seen: Option<i64>,
    /// Time the main thread spent in long tasks within the window, which
    /// extends it (at most by one more window): the page could not react.
    blocked: i64,
}

impl Pending {
    fn window_end(&self, cfg: &DeadClickConfig) -> i64 {
        self.click.ts + cfg.window_ms + self.blocked
    }
}

/// Clicks waiting for a verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeadClick {
    /// Boxed: 8 bytes inline in every session, and idle sessions have
    /// nothing pending.
    pending: Option<Box<Queue>>,
}

/// Waiting clicks, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Queue {
    clicks: VecDeque<Pending>,
    /// Whether a long task extended any waiting click's window (rare): only
    /// then must a reaction look further back than one window.
    blocked: bool,
    /// Time and selector of the latest click, waiting or not: a reaction
    /// right after it is its own (see `DeadClickConfig::cause_ms`).
    last: Option<(i64, Arc<str>)>,
}

impl DeadClick {
    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
    }

    /// Decides every click whose window, plus the grace for requests still
    /// in flight, lies entirely before `now`.
    pub fn advance(&mut self, cfg: &DeadClickConfig, slow: &SlowClickConfig, now: i64, emit: &mut Emit<'_>) {
        let Some(q) = &mut self.pending else { return };
        let pending = &mut q.clicks;
        while let Some(p) = pending.front() {
            if now <= p.window_end(cfg) + cfg.net_grace_ms {
                break;
            }
            let p = pending.pop_front().expect("front exists");
            Self::decide(cfg, slow, p, emit);
        }
        if pending.is_empty() {
            self.pending = None;
        }
    }

    pub fn on_event(
        &mut self,
        cfg: &DeadClickConfig,
        ev: &Event,
        click: Option<&Click<'_>>,
        _emit: &mut Emit<'_>,
    ) {
        // Pending clicks are in time order, so only a suffix of them can be
        // touched by an event now: a session with many clicks waiting for
        // the net grace would otherwise be scanned whole on every event.
        // A reaction at time `at` answers every pending click whose window holds it.
        let hidden = matches!(ev.body, Body::Vis { state: Visibility::Hidden });
        let last = self.pending.as_ref().and_then(|q| q.last.as_ref());
        let at = match &ev.body {
            Body::Mutation { .. }
            | Body::Nav { .. }
            | Body::Scroll { .. }
            | Body::Input { .. }
            | Body::Select => Some(ev.ts),
            // Only right after the latest click (a tab it opened): a page
            // hidden later is the user leaving, often because nothing worked.
            _ if hidden && last.is_some_and(|(ts, _)| *ts <= ev.ts && ev.ts - *ts <= cfg.hidden_ms) => {
                Some(ev.ts)
            }
            // A request is reported when it ends; it reacts when it starts.
            Body::Net { dur, .. } => Some(ev.ts - *dur as i64),
            _ => None,
        };
        // A window is at most two windows long (blocking extends it by at most one).
        let blocked = self.pending.as_ref().is_some_and(|q| q.blocked);
        let longest = if blocked { 2 * cfg.window_ms } else { cfg.window_ms };
        if let (Some(at), Some(q)) = (at, &mut self.pending) {
            // A reaction right after a click on another element is that
            // click's doing (a handler's DOM change, a request it sent), not
            // a late answer to the clicks before it. Typing, selecting and
            // leaving the page are the user's own doing: they only ever
            // answer the latest click (a box ticked, a field clicked into,
            // a link to a new tab).
            let latest_only = matches!(ev.body, Body::Input { .. } | Body::Select) || hidden;
            let visible = !matches!(ev.body, Body::Net { .. });
            let cause =
                q.last.as_ref().filter(|(ts, _)| *ts <= at && (latest_only || at - *ts <= cfg.cause_ms));
            for p in q.clicks.iter_mut().rev() {
                if p.click.ts + longest < at {
                    break;
                }
                let others = cause.is_some_and(|(ts, sel)| p.click.ts < *ts && *p.click.sel != **sel);
                if p.click.ts <= at && at <= p.window_end(cfg) && !others {
                    p.reaction = Some(p.reaction.map_or(at, |r| r.min(at)));
                    if visible {
                        p.seen = Some(p.seen.map_or(at, |r| r.min(at)));
                    }
                }
            }
        }
        if let (Body::LongTask { dur }, Some(q)) = (&ev.body, &mut self.pending) {
            for p in q.clicks.iter_mut().rev() {
                if p.click.ts + longest < ev.ts {
                    break;
                }
                if p.click.ts <= ev.ts && ev.ts <= p.window_end(cfg) {
                    p.blocked = (p.blocked + *dur as i64).min(cfg.window_ms);
                    q.blocked = true;
                }
            }
        }
        let Some(c) = click else { return };
        if let Some(q) = &mut self.pending {
            q.last = Some((c.ev.ts, Arc::clone(&c.r.sel)));
        }
        // A repeat of a click on the same selector that is still waiting
        // for a reaction is not a second dead click: if nothing reacts, the
        // first one is dead and this one adds nothing; anything reacting to
        // this one within the first's window reacts to the first too. A
        // repeat after the first got its reaction is judged on its own.
        let repeat = self
            .pending
            .iter()
            .flat_map(|q| q.clicks.iter())
            .rev()
            .take_while(|p| c.ev.ts - p.click.ts <= cfg.repeat_ms)
            .any(|p| p.reaction.is_none() && *p.click.sel == *c.sel());
        if repeat || !Self::candidate(cfg, c) {
            return;
        }
        let q = self.pending.get_or_insert_with(Default::default);
        q.last = Some((c.ev.ts, Arc::clone(&c.r.sel)));
        q.clicks.push_back(Pending { click: c.to_ref(), reaction: None, seen: None, blocked: 0 });
    }

    /// Clicks that may legitimately get no visible reaction are never dead.
    fn candidate(cfg: &DeadClickConfig, c: &Click<'_>) -> bool {
        let el = c.el;
        let tag = el.tag.as_deref();
        !(el.is_text_like()
            || matches!(tag, Some("canvas" | "html" | "body"))
            || el.navigates_away()
            || cfg.ignore_selectors.matches(c.sel()))
    }

    /// The session ended: what has not reacted by now never will.
    pub fn flush(&mut self, cfg: &DeadClickConfig, slow: &SlowClickConfig, emit: &mut Emit<'_>) {
        for p in self.pending.take().into_iter().flat_map(|q| q.clicks) {
            Self::decide(cfg, slow, p, emit);
        }
    }

    fn decide(cfg: &DeadClickConfig, slow: &SlowClickConfig, p: Pending, emit: &mut Emit<'_>) {
        let c = &p.click;
        match p.reaction {
            None if cfg.enabled => {
                emit.signal(SignalKind::DeadClick, c, p.window_end(cfg), 1, vec![c.seq]);
            }
            // Slow is what the user sees: a request sent at once does not
            // make a click whose result shows 2 s later feel fast.
            Some(_) if slow.enabled && p.seen.is_some_and(|at| at - c.ts > slow.min_delay_ms) => {
                emit.signal(SignalKind::SlowClick, c, c.ts, 1, vec![c.seq]);
            }
            _ => {}
        }
    }
}
