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
mod peers;
mod rules;
mod selector;
mod signal;

pub use config::{
    Catalogue, DeadClickConfig, ErrorClickConfig, FailedRequestConfig, FormLoopConfig, RageClickConfig,
    ReversalsConfig, RuleSet, RulesError, SlowClickConfig, UTurnConfig, UnresponsiveConfig, PROFILES,
};
/// The peer profiles' parameters.
pub mod profiles {
    pub use crate::peers::amplitude::Rules as Amplitude;
    pub use crate::peers::datadog::Rules as Datadog;
    pub use crate::peers::openreplay::Rules as OpenReplay;
    pub use crate::peers::posthog::Rules as PostHog;
    pub use crate::peers::sentry::Rules as Sentry;
}
pub use selector::SelectorList;
pub use signal::{Signal, SignalKind};

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use rules::{
    Click, DeadClick, Emit, ErrorClick, FailedRequest, Fold, FormLoop, RageClick, Reversals, Sample, Timing,
    UTurn, Unresponsive,
};

/// The rule state of one session. Feed it the session's events in
/// `(ts, seq)` order; it never looks at another session.
///
/// Most live sessions sit idle between page views with every window
/// closed, so the catalogue's windows live in one box that is released
/// (at a watermark or the end) once all of them are closed: an idle
/// session costs its page and two empty pointers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionEngine {
    /// The current page: the `url` of the last `nav`.
    page: Option<Arc<str>>,
    /// The catalogue's open windows (none under a peer profile, or idle).
    windows: Option<Box<Windows>>,
    /// The state under a peer profile (none under `ufse`).
    peer: Option<Box<peers::State>>,
}

/// The catalogue rules' windows. Each rule's state is itself empty while
/// its windows are closed, so an idle `Windows` equals the default one
/// and dropping it loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Windows {
    rage: RageClick,
    /// Dead and slow clicks.
    dead: DeadClick,
    error: ErrorClick,
    failed: FailedRequest,
    form: FormLoop,
    thrash: Reversals,
    u_turn: UTurn,
    scroll: Reversals,
    unresponsive: Unresponsive,
    fold: Fold,
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
    /// `url` of their own belong to. Shared: a summary holding the same
    /// page can keep a clone instead of a copy.
    pub fn page(&self) -> Option<&Arc<str>> {
        self.page.as_ref()
    }

    /// Evaluates one event. Session time first advances to `ev.ts`, closing
    /// every window that ends before it.
    pub fn on_event(&mut self, rules: &RuleSet, sid: &str, ev: &Event, out: &mut Vec<Signal>) {
        match rules {
            RuleSet::Ufse(c) => {
                let w = self.windows.get_or_insert_default();
                w.watermark(c, sid, ev.ts, out);
                w.event(c, sid, ev, &mut self.page, out);
            }
            peer => self.peer_event(peer, sid, ev, out),
        }
    }

    /// Session time has reached `now` (no later event can come before it):
    /// closes the windows that end before it.
    pub fn on_watermark(&mut self, rules: &RuleSet, sid: &str, now: i64, out: &mut Vec<Signal>) {
        match rules {
            RuleSet::Ufse(c) => {
                if let Some(w) = &mut self.windows {
                    w.watermark(c, sid, now, out);
                    // Released here rather than after each event, so a busy
                    // session does not allocate its windows again per event.
                    if w.is_idle() {
                        self.windows = None;
                    }
                }
            }
            peer => {
                if let Some(p) = &mut self.peer {
                    p.advance(peer, now, &mut Emit { sid, out });
                }
            }
        }
    }

    /// The session (or the input) ended: closes every open window.
    pub fn on_end(&mut self, rules: &RuleSet, sid: &str, out: &mut Vec<Signal>) {
        match rules {
            RuleSet::Ufse(c) => {
                if let Some(mut w) = self.windows.take() {
                    w.end(c, sid, out);
                }
            }
            peer => {
                if let Some(mut p) = self.peer.take() {
                    p.end(peer, &mut Emit { sid, out });
                }
            }
        }
    }

    fn peer_event(&mut self, rules: &RuleSet, sid: &str, ev: &Event, out: &mut Vec<Signal>) {
        self.on_watermark(rules, sid, ev.ts, out);
        if let Body::Nav { .. } = ev.body {
            self.page = ev.url.as_deref().map(Arc::from);
        }
        let page = self.page.as_ref();
        let click = Click::of(ev, page);
        // A state restored under another profile starts afresh.
        if self.peer.as_ref().is_none_or(|p| !p.is_for(rules)) {
            self.peer = peers::State::new(rules).map(Box::new);
        }
        if let Some(p) = &mut self.peer {
            p.on_event(rules, ev, click.as_ref(), page.map(|p| &**p), &mut Emit { sid, out });
        }
    }

    /// No window is open: ending the session now would emit nothing.
    pub fn is_idle(&self) -> bool {
        self.windows.as_ref().is_none_or(|w| w.is_idle()) && self.peer.as_ref().is_none_or(|p| p.is_idle())
    }
}

impl Windows {
    /// One event, after [`Windows::watermark`] to its time; a `nav` moves `page`.
    fn event(
        &mut self,
        rules: &Catalogue,
        sid: &str,
        ev: &Event,
        page: &mut Option<Arc<str>>,
        out: &mut Vec<Signal>,
    ) {
        let from = out.len();
        let mut emit = Emit { sid, out };
        if rules.u_turn.enabled {
            self.u_turn.on_event(&rules.u_turn, ev, page.as_deref(), &mut emit);
        }
        if let Body::Nav { .. } = ev.body {
            *page = ev.url.as_deref().map(Arc::from);
            self.scroll.reset(SignalKind::ExcessiveScroll, &mut emit);
        }
        let page = page.as_ref();
        let click = Click::of(ev, page);
        let click = click.as_ref();
        if rules.rage_click.enabled {
            self.rage.on_event(&rules.rage_click, ev, click, &mut emit);
        }
        if rules.dead_click.enabled || rules.slow_click.enabled {
            self.dead.on_event(&rules.dead_click, ev, click, &mut emit);
        }
        if rules.error_click.enabled {
            self.error.on_event(&rules.error_click, ev, click, &mut emit);
        }
        if rules.failed_request.enabled {
            self.failed.on_event(&rules.failed_request, ev, click, page, &mut emit);
        }
        if rules.unresponsive.enabled {
            self.unresponsive.on_event(&rules.unresponsive, ev, click, &mut emit);
        }
        if rules.form_loop.enabled {
            self.form.on_event(&rules.form_loop, ev, page, &mut emit);
        }
        match ev.body {
            Body::Move { x, .. } if rules.thrashed_cursor.enabled => {
                let cfg = &rules.thrashed_cursor;
                if let Some(leg) = cfg.leg_px(None) {
                    let s = Sample { ts: ev.ts, seq: ev.seq, pos: x, leg };
                    self.thrash.on_sample(SignalKind::ThrashedCursor, cfg, s, page.map(|p| &**p), &mut emit);
                }
            }
            Body::Scroll { y, vh } if rules.excessive_scroll.enabled => {
                let cfg = &rules.excessive_scroll;
                if let Some(leg) = cfg.leg_px(vh) {
                    let s = Sample { ts: ev.ts, seq: ev.seq, pos: y, leg };
                    self.scroll.on_sample(SignalKind::ExcessiveScroll, cfg, s, page.map(|p| &**p), &mut emit);
                }
            }
            _ => {}
        }
        self.fold(rules, Some(ev.ts), out, from);
    }

    fn watermark(&mut self, rules: &Catalogue, sid: &str, now: i64, out: &mut Vec<Signal>) {
        let from = out.len();
        let mut emit = Emit { sid, out };
        self.rage.advance(&rules.rage_click, now, &mut emit);
        self.dead.advance(&rules.dead_click, &rules.slow_click, now, &mut emit);
        self.error.advance(&rules.error_click, now);
        self.failed.advance(&rules.failed_request, now);
        self.unresponsive.advance(&rules.unresponsive, now);
        self.form.advance(&rules.form_loop, now, &mut emit);
        self.thrash.advance(SignalKind::ThrashedCursor, &rules.thrashed_cursor, now, &mut emit);
        self.u_turn.advance(&rules.u_turn, now);
        self.scroll.advance(SignalKind::ExcessiveScroll, &rules.excessive_scroll, now, &mut emit);
        self.fold(rules, Some(now), out, from);
    }

    /// Closes every window (the windows are dropped after this).
    fn end(&mut self, rules: &Catalogue, sid: &str, out: &mut Vec<Signal>) {
        let from = out.len();
        let mut emit = Emit { sid, out };
        self.rage.close(&rules.rage_click, &mut emit);
        self.dead.flush(&rules.dead_click, &rules.slow_click, &mut emit);
        self.form.close(&rules.form_loop, &mut emit);
        self.thrash.close(SignalKind::ThrashedCursor, &mut emit);
        self.scroll.close(SignalKind::ExcessiveScroll, &mut emit);
        self.fold(rules, None, out, from);
    }

    /// Runs this step's signals (`out[from..]`) through the rage fold.
    fn fold(&mut self, rules: &Catalogue, now: Option<i64>, out: &mut Vec<Signal>, from: usize) {
        if rules.rage_click.enabled && rules.rage_click.fold {
            let timing = Timing {
                // A dead-click window grows by up to one more window while the page is blocked.
                settle_ms: (2 * rules.dead_click.window_ms + rules.dead_click.net_grace_ms)
                    .max(rules.error_click.window_ms),
                dead_window_ms: rules.dead_click.window_ms,
            };
            self.fold.process(timing, self.rage.open_run(), now, out, from);
        }
    }

    fn is_idle(&self) -> bool {
        self.rage.is_idle()
            && self.dead.is_idle()
            && self.error.is_idle()
            && self.failed.is_idle()
            && self.form.is_idle()
            && self.thrash.is_idle()
            && self.u_turn.is_idle()
            && self.scroll.is_idle()
            && self.unresponsive.is_idle()
            && self.fold.is_idle()
    }
}

#[cfg(test)]
mod tests;
