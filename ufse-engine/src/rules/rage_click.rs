//! `rage_click`: a run of clicks, each soon after and close to the previous.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::{Click, ClickRef, Emit};
use crate::config::RageClickConfig;
use crate::SignalKind;

/// The open run of clicks, if any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RageClick {
    run: Vec<ClickRef>,
}

impl RageClick {
    pub fn is_idle(&self) -> bool {
        self.run.is_empty()
    }

    /// The clicks of the open run (which may still become rage).
    pub fn open_run(&self) -> &[ClickRef] {
        &self.run
    }

    /// Closes the run once session time has passed the point where another
    /// click could still extend it.
    pub fn advance(&mut self, cfg: &RageClickConfig, now: i64, emit: &mut Emit<'_>) {
        if self.run.last().is_some_and(|last| now > last.ts + cfg.max_interval_ms) {
            self.close(cfg, emit);
        }
    }

    pub fn on_event(
        &mut self,
        cfg: &RageClickConfig,
        ev: &Event,
        click: Option<&Click<'_>>,
        emit: &mut Emit<'_>,
    ) {
        match (&ev.body, click) {
            (Body::Click { .. }, Some(c)) => {
                // Typing targets, steppers, pagination and ignored selectors
                // are transparent to runs.
                if c.el.is_text_like() || cfg.ignores_label(c.txt()) || cfg.ignore_selectors.matches(c.sel) {
                    return;
                }
                if let Some(last) = self.run.last() {
                    let far = (c.x - last.x).hypot(c.y - last.y) > cfg.radius_px;
                    if far || c.ev.ts - last.ts > cfg.max_interval_ms {
                        self.close(cfg, emit);
                    }
                }
                self.run.push(c.to_ref());
            }
            // Selecting text, scrolling or typing between clicks means the
            // user is doing something else, not hammering a button.
            (Body::Select | Body::Scroll { .. } | Body::Input { .. }, _) => self.close(cfg, emit),
            _ => {}
        }
    }

    pub fn close(&mut self, cfg: &RageClickConfig, emit: &mut Emit<'_>) {
        let run = std::mem::take(&mut self.run);
        if run.len() >= cfg.min_clicks as usize {
            let end_ts = run[run.len() - 1].ts;
            let evidence = run.iter().map(|c| c.seq).collect();
            emit.signal(SignalKind::RageClick, &run[0], end_ts, run.len() as u32, evidence);
        }
    }
}
