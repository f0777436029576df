//! `rage_click`: a run of clicks, each soon after and close to the previous.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::{Capped, Click, ClickRef, Emit};
use crate::config::RageClickConfig;
use crate::SignalKind;

/// An open run: its first click, where and when the last one landed, and
/// the clicks' seqs (capped, so an autoclicker cannot grow the state
/// without bound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Run {
    first: ClickRef,
    last: (i64, f64, f64),
    seqs: Capped<u64>,
}

/// The open run of clicks, if any (boxed: most sessions have none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RageClick {
    run: Option<Box<Run>>,
}

impl RageClick {
    pub fn is_idle(&self) -> bool {
        self.run.is_none()
    }

    /// The seqs of the open run's clicks (which may still become rage).
    pub fn open_run(&self) -> &[u64] {
        self.run.as_ref().map_or(&[], |r| r.seqs.items())
    }

    /// Closes the run once session time has passed the point where another
    /// click could still extend it.
    pub fn advance(&mut self, cfg: &RageClickConfig, now: i64, emit: &mut Emit<'_>) {
        if self.run.as_ref().is_some_and(|r| now > r.last.0 + cfg.max_interval_ms) {
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
                if c.el.is_text_like() || cfg.ignores_label(c.txt()) || cfg.ignore_selectors.matches(c.sel())
                {
                    return;
                }
                if let Some(r) = &self.run {
                    let (ts, x, y) = r.last;
                    let far = (c.r.x - x).hypot(c.r.y - y) > cfg.radius_px;
                    if far || c.ev.ts - ts > cfg.max_interval_ms {
                        self.close(cfg, emit);
                    }
                }
                let run = self.run.get_or_insert_with(|| {
                    Box::new(Run { first: c.to_ref(), last: (0, 0.0, 0.0), seqs: Capped::default() })
                });
                run.last = (c.ev.ts, c.r.x, c.r.y);
                run.seqs.push(c.ev.seq);
            }
            // A selection right after the last click: the clicks were
            // selecting text (browsers report one selection change for a
            // fast double or triple click, after its last click).
            (Body::Select, _) if self.run.as_ref().is_some_and(|r| ev.ts - r.last.0 <= cfg.select_ms) => {
                self.run = None;
            }
            // Selecting text, scrolling or typing between clicks means the
            // user is doing something else, not hammering a button.
            (Body::Select | Body::Scroll { .. } | Body::Input { .. }, _) => self.close(cfg, emit),
            _ => {}
        }
    }

    pub fn close(&mut self, cfg: &RageClickConfig, emit: &mut Emit<'_>) {
        if let Some(run) = self.run.take() {
            if run.seqs.count() >= cfg.min_clicks {
                let count = run.seqs.count();
                emit.signal(SignalKind::RageClick, &run.first, run.last.0, count, run.seqs.into_items());
            }
        }
    }
}
