//! Compatibility profiles: other products' published frustration rules
//! (as of their late-2026 SDK releases), reproduced to the letter so a
//! team can compare like with like. Each profile replaces the catalogue
//! and emits only its own kinds; `docs/profiles.md` sets them side by side.

pub(crate) mod amplitude;
pub(crate) mod datadog;
pub(crate) mod openreplay;
pub(crate) mod posthog;
pub(crate) mod sentry;

use serde::{Deserialize, Serialize};
use ufse_schema::Event;

use crate::rules::{Click, Emit};
use crate::RuleSet;

/// One session's state under a peer profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum State {
    Posthog(posthog::State),
    Openreplay(openreplay::State),
    Amplitude(amplitude::State),
    Sentry(sentry::State),
    Datadog(datadog::State),
}

impl State {
    /// A fresh state for `rules`' profile; `None` under `ufse`.
    pub fn new(rules: &RuleSet) -> Option<Self> {
        match rules {
            RuleSet::Ufse(_) => None,
            RuleSet::Posthog(_) => Some(State::Posthog(Default::default())),
            RuleSet::Openreplay(_) => Some(State::Openreplay(Default::default())),
            RuleSet::Amplitude(_) => Some(State::Amplitude(Default::default())),
            RuleSet::Sentry(_) => Some(State::Sentry(Default::default())),
            RuleSet::Datadog(_) => Some(State::Datadog(Default::default())),
        }
    }

    /// Whether this state belongs to `rules`' profile.
    pub fn is_for(&self, rules: &RuleSet) -> bool {
        matches!(
            (self, rules),
            (State::Posthog(_), RuleSet::Posthog(_))
                | (State::Openreplay(_), RuleSet::Openreplay(_))
                | (State::Amplitude(_), RuleSet::Amplitude(_))
                | (State::Sentry(_), RuleSet::Sentry(_))
                | (State::Datadog(_), RuleSet::Datadog(_))
        )
    }

    pub fn on_event(
        &mut self,
        rules: &RuleSet,
        ev: &Event,
        click: Option<&Click<'_>>,
        page: Option<&str>,
        emit: &mut Emit<'_>,
    ) {
        match (self, rules) {
            (State::Posthog(s), RuleSet::Posthog(r)) => s.on_event(r, ev, click, emit),
            (State::Openreplay(s), RuleSet::Openreplay(r)) => s.on_event(r, ev, click, emit),
            (State::Amplitude(s), RuleSet::Amplitude(r)) => s.on_event(r, ev, click, page, emit),
            (State::Sentry(s), RuleSet::Sentry(r)) => s.on_event(r, ev, click),
            (State::Datadog(s), RuleSet::Datadog(r)) => s.on_event(r, ev, click, emit),
            _ => {}
        }
    }

    pub fn advance(&mut self, rules: &RuleSet, now: i64, emit: &mut Emit<'_>) {
        match (self, rules) {
            (State::Posthog(s), RuleSet::Posthog(r)) => s.advance(r, now, emit),
            (State::Openreplay(s), RuleSet::Openreplay(r)) => s.advance(r, now, emit),
            (State::Amplitude(s), RuleSet::Amplitude(r)) => s.advance(r, now, emit),
            (State::Sentry(s), RuleSet::Sentry(r)) => s.advance(r, now, emit),
            (State::Datadog(s), RuleSet::Datadog(r)) => s.advance(r, now, emit),
            _ => {}
        }
    }

    pub fn end(&mut self, rules: &RuleSet, emit: &mut Emit<'_>) {
        match (self, rules) {
            (State::Posthog(s), RuleSet::Posthog(r)) => s.end(r, emit),
            (State::Openreplay(s), RuleSet::Openreplay(r)) => s.end(r, emit),
            (State::Amplitude(s), RuleSet::Amplitude(r)) => s.end(r, emit),
            (State::Sentry(s), RuleSet::Sentry(r)) => s.end(r, emit),
            (State::Datadog(s), RuleSet::Datadog(r)) => s.end(r, emit),
            _ => {}
        }
    }

    pub fn is_idle(&self) -> bool {
        match self {
            State::Posthog(s) => s.is_idle(),
            State::Openreplay(s) => s.is_idle(),
            State::Amplitude(s) => s.is_idle(),
            State::Sentry(s) => s.is_idle(),
            State::Datadog(s) => s.is_idle(),
        }
    }
}

/// Clicks waiting a fixed time for a reaction: the dead-click mechanics
/// the peers share (they differ in what counts as a reaction and when).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Waiting {
    pending: std::collections::VecDeque<(crate::rules::ClickRef, bool)>,
}

impl Waiting {
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn push(&mut self, c: crate::rules::ClickRef) {
        self.pending.push_back((c, false));
    }

    /// Marks as alive every waiting click for which `answers(click ts)` holds.
    pub fn react(&mut self, answers: impl Fn(i64) -> bool) {
        for (c, alive) in &mut self.pending {
            if answers(c.ts) {
                *alive = true;
            }
        }
    }

    /// Whether a waiting click matches `f`.
    pub fn any(&self, f: impl Fn(&crate::rules::ClickRef) -> bool) -> bool {
        self.pending.iter().any(|(c, _)| f(c))
    }

    /// Hands every click whose wait ended before `now` (all with `None`)
    /// to `decide`, oldest first, with whether anything answered it.
    pub fn settle(
        &mut self,
        wait_ms: i64,
        now: Option<i64>,
        mut decide: impl FnMut(crate::rules::ClickRef, bool),
    ) {
        while let Some((c, _)) = self.pending.front() {
            if now.is_some_and(|now| now <= c.ts + wait_ms) {
                break;
            }
            let (c, alive) = self.pending.pop_front().expect("front exists");
            decide(c, alive);
        }
    }
}
