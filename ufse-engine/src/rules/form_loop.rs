//! `form_loop`: the same form submitted again and again with no navigation
//! between: the submit does not get the user anywhere.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::{ClickRef, Emit};
use crate::config::FormLoopConfig;
use crate::SignalKind;

/// Submits of one form since the last navigation, within the window of the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chain {
    first: ClickRef,
    last_ts: i64,
    seqs: Vec<u64>,
}

/// Open chains, one per form (boxed: forms are rare).
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

    /// Closes the chains no later submit can extend.
    pub fn advance(&mut self, cfg: &FormLoopConfig, now: i64, emit: &mut Emit<'_>) {
        self.close_where(cfg, emit, |c| now > c.first.ts + cfg.window_ms);
    }

    pub fn on_event(&mut self, cfg: &FormLoopConfig, ev: &Event, page: Option<&str>, emit: &mut Emit<'_>) {
        match &ev.body {
            Body::Nav { .. } => self.close(cfg, emit),
            Body::Submit { sel } => {
                self.close_where(cfg, emit, |c| c.first.sel == *sel && ev.ts - c.first.ts > cfg.window_ms);
                let chains = self.chains.get_or_insert_with(Default::default);
                match chains.iter_mut().find(|c| c.first.sel == *sel) {
                    Some(c) => {
                        c.last_ts = ev.ts;
                        c.seqs.push(ev.seq);
                    }
                    None => chains.push(Chain {
                        first: ClickRef::submit(ev, sel, page),
                        last_ts: ev.ts,
                        seqs: vec![ev.seq],
                    }),
                }
            }
            _ => {}
        }
    }

    /// Closes every chain.
    pub fn close(&mut self, cfg: &FormLoopConfig, emit: &mut Emit<'_>) {
        self.close_where(cfg, emit, |_| true);
    }

    fn close_where(&mut self, cfg: &FormLoopConfig, emit: &mut Emit<'_>, done: impl Fn(&Chain) -> bool) {
        let Some(chains) = &mut self.chains else { return };
        chains.retain_mut(|c| {
            if !done(c) {
                return true;
            }
            if c.seqs.len() >= cfg.min_submits as usize {
                let seqs = std::mem::take(&mut c.seqs);
                emit.signal(SignalKind::FormLoop, &c.first, c.last_ts, seqs.len() as u32, seqs);
            }
            false
        });
        if chains.is_empty() {
            self.chains = None;
        }
    }
}
