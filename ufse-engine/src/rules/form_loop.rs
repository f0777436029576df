//! `form_loop`: the same form submitted again and again with no navigation
//! between: the submit does not get the user anywhere.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::{ClickRef, Emit};
use crate::config::FormLoopConfig;
use crate::SignalKind;

/// Submits of one form since the last navigation that may still make or
/// extend a loop: `(seq, ts)`, oldest first. While fewer than a loop, the
/// oldest fall away as they leave the window (it slides); once a loop, it
/// grows while submits come within the window of its first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chain {
    /// The form's selector and page, as of the first submit kept.
    form: ClickRef,
    submits: Vec<(u64, i64)>,
}

impl Chain {
    fn first_ts(&self) -> i64 {
        self.submits[0].1
    }
}

/// Open chains, one per form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FormLoop {
    // Boxed on purpose: 8 bytes inline in every session instead of 24.
    #[allow(clippy::box_collection)]
    chains: Option<Box<Vec<Chain>>>,
}

impl FormLoop {
    pub fn is_idle(&self) -> bool {
        self.chains.is_none()
    }

    /// Closes the loops no later submit can extend and forgets submits
    /// that can no longer be part of one.
    pub fn advance(&mut self, cfg: &FormLoopConfig, now: i64, emit: &mut Emit<'_>) {
        self.settle(cfg, emit, |c| now > c.first_ts() + cfg.window_ms, now - cfg.window_ms);
    }

    pub fn on_event(
        &mut self,
        cfg: &FormLoopConfig,
        ev: &Event,
        page: Option<&Arc<str>>,
        emit: &mut Emit<'_>,
    ) {
        match &ev.body {
            Body::Nav { .. } => self.close(cfg, emit),
            Body::Submit { sel } => {
                let late = |c: &Chain| *c.form.sel == **sel && ev.ts - c.first_ts() > cfg.window_ms;
                self.settle(cfg, emit, late, ev.ts - cfg.window_ms);
                let chains = self.chains.get_or_insert_with(Default::default);
                match chains.iter_mut().find(|c| *c.form.sel == **sel) {
                    Some(c) => c.submits.push((ev.seq, ev.ts)),
                    None => chains.push(Chain {
                        form: ClickRef::submit(ev, sel, page),
                        submits: vec![(ev.seq, ev.ts)],
                    }),
                }
            }
            _ => {}
        }
    }

    /// Closes every chain.
    pub fn close(&mut self, cfg: &FormLoopConfig, emit: &mut Emit<'_>) {
        self.settle(cfg, emit, |_| true, i64::MAX);
    }

    /// Emits and drops the loops for which `done` holds; from chains short
    /// of a loop, drops the submits before `keep_from`.
    fn settle(
        &mut self,
        cfg: &FormLoopConfig,
        emit: &mut Emit<'_>,
        done: impl Fn(&Chain) -> bool,
        keep_from: i64,
    ) {
        let Some(chains) = &mut self.chains else { return };
        let min = cfg.min_submits as usize;
        chains.retain_mut(|c| {
            if c.submits.len() >= min {
                if !done(c) {
                    return true;
                }
                let (last_ts, count) = (c.submits[c.submits.len() - 1].1, c.submits.len() as u32);
                let first = ClickRef { seq: c.submits[0].0, ts: c.first_ts(), ..c.form.clone() };
                let evidence = c.submits.iter().map(|s| s.0).collect();
                emit.signal(SignalKind::FormLoop, &first, last_ts, count, evidence);
                return false;
            }
            c.submits.retain(|s| s.1 >= keep_from);
            !c.submits.is_empty()
        });
        if chains.is_empty() {
            self.chains = None;
        }
    }
}
