//! `error_click`: an uncaught error soon after a click, with no navigation between.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::{Click, ClickRef, Emit};
use crate::config::ErrorClickConfig;
use crate::SignalKind;

/// The most recent click since the last navigation (boxed: idle sessions
/// have none, and should not pay for one inline).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ErrorClick {
    last: Option<Box<ClickRef>>,
}

impl ErrorClick {
    pub fn advance(&mut self, cfg: &ErrorClickConfig, now: i64) {
        if self.last.as_ref().is_some_and(|c| now > c.ts + cfg.window_ms) {
            self.last = None;
        }
    }

    pub fn is_idle(&self) -> bool {
        self.last.is_none()
    }

    pub fn on_event(
        &mut self,
        cfg: &ErrorClickConfig,
        ev: &Event,
        click: Option<&Click<'_>>,
        emit: &mut Emit<'_>,
    ) {
        match &ev.body {
            Body::Nav { .. } => self.last = None,
            Body::Click { .. } => self.last = click.map(|c| Box::new(c.to_ref())),
            Body::Error(_) => {
                if let Some(c) = &self.last {
                    if ev.ts - c.ts <= cfg.window_ms {
                        emit.signal(SignalKind::ErrorClick, c, ev.ts, 1, vec![c.seq, ev.seq]);
                    }
                }
            }
            _ => {}
        }
    }
}
