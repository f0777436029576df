//! `unresponsive`: a long task that blocked the main thread right after a click.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::{Click, ClickRef, Emit};
use crate::config::UnresponsiveConfig;
use crate::SignalKind;

/// The most recent click, while a long task could still follow it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Unresponsive {
    last: Option<Box<ClickRef>>,
}

impl Unresponsive {
    pub fn is_idle(&self) -> bool {
        self.last.is_none()
    }

    pub fn advance(&mut self, cfg: &UnresponsiveConfig, now: i64) {
        if self.last.as_ref().is_some_and(|c| now > c.ts + cfg.window_ms) {
            self.last = None;
        }
    }

    pub fn on_event(
        &mut self,
        cfg: &UnresponsiveConfig,
        ev: &Event,
        click: Option<&Click<'_>>,
        emit: &mut Emit<'_>,
    ) {
        match &ev.body {
            Body::Click { .. } => self.last = click.map(|c| Box::new(c.to_ref())),
            // `ts` is when the task started blocking.
            Body::LongTask { dur } if *dur >= cfg.min_task_ms => {
                if let Some(c) = self.last.as_deref().filter(|c| ev.ts - c.ts <= cfg.window_ms) {
                    emit.signal(SignalKind::Unresponsive, c, ev.ts, 1, vec![c.seq, ev.seq]);
                }
            }
            _ => {}
        }
    }
}
