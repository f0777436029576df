//! `dead_click`: a click that gets no reaction within the window.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event, Visibility};

use super::{Click, ClickRef, Emit};
use crate::config::DeadClickConfig;
use crate::SignalKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    click: ClickRef,
    reacted: bool,
}

/// Clicks waiting for a verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DeadClick {
    pending: VecDeque<Pending>,
}

impl DeadClick {
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// Decides every click whose window, plus the grace for requests still
    /// in flight, lies entirely before `now`.
    pub fn advance(&mut self, cfg: &DeadClickConfig, now: i64, emit: &mut Emit<'_>) {
        while let Some(p) = self.pending.front() {
            if now <= p.click.ts + cfg.window_ms + cfg.net_grace_ms {
                break;
            }
            let p = self.pending.pop_front().expect("front exists");
            Self::decide(cfg, p, emit);
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
        let at = match &ev.body {
            Body::Mutation { .. }
            | Body::Nav { .. }
            | Body::Scroll { .. }
            | Body::Input { .. }
            | Body::Select => Some(ev.ts),
            Body::Vis { state: Visibility::Hidden } => Some(ev.ts),
            // A request is reported when it ends; it reacts when it starts.
            Body::Net { dur, .. } => Some(ev.ts - *dur as i64),
            _ => None,
        };
        if let Some(at) = at {
            for p in self.pending.iter_mut().rev() {
                if p.click.ts + cfg.window_ms < at {
                    break;
                }
                if p.click.ts <= at {
                    p.reacted = true;
                }
            }
        }
        let Some(c) = click else { return };
        // A repeat of a click on the same selector that is still waiting
        // for a reaction is not a second dead click: if nothing reacts, the
        // first one is dead and this one adds nothing; anything reacting to
        // this one within the first's window reacts to the first too. A
        // repeat after the first got its reaction is judged on its own.
        let repeat = self
            .pending
            .iter()
            .rev()
            .take_while(|p| c.ev.ts - p.click.ts <= cfg.repeat_ms)
            .any(|p| !p.reacted && p.click.sel == c.sel);
        if repeat || !Self::candidate(cfg, c) {
            return;
        }
        self.pending.push_back(Pending { click: c.to_ref(), reacted: false });
    }

    /// Clicks that may legitimately get no visible reaction are never dead.
    fn candidate(cfg: &DeadClickConfig, c: &Click<'_>) -> bool {
        let el = c.el;
        let tag = el.tag.as_deref();
        !(el.is_text_like()
            || matches!(tag, Some("canvas" | "html" | "body"))
            || el.navigates_away()
            || cfg.ignore_selectors.matches(c.sel))
    }

    /// The session ended: what has not reacted by now never will.
    pub fn flush(&mut self, cfg: &DeadClickConfig, emit: &mut Emit<'_>) {
        while let Some(p) = self.pending.pop_front() {
            Self::decide(cfg, p, emit);
        }
    }

    fn decide(cfg: &DeadClickConfig, p: Pending, emit: &mut Emit<'_>) {
        if !p.reacted {
            emit.signal(SignalKind::DeadClick, &p.click, p.click.ts + cfg.window_ms, 1, vec![p.click.seq]);
        }
    }
}
