//! `failed_request`: a request that started soon after a click or submit
//! and failed (status 0, a network failure, or a server error).

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event};

use super::{Click, ClickRef, Emit};
use crate::config::FailedRequestConfig;
use crate::SignalKind;

/// Most triggers remembered; a session clicking faster than this within
/// the look-back has its oldest clicks forgotten first.
const MAX_TRIGGERS: usize = 64;

/// Recent clicks and submits, oldest first (boxed: most sessions have none
/// in the look-back most of the time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct FailedRequest {
    // Boxed on purpose: 8 bytes inline in every session instead of 32.
    #[allow(clippy::box_collection)]
    triggers: Option<Box<VecDeque<ClickRef>>>,
}

impl FailedRequest {
    pub fn is_idle(&self) -> bool {
        self.triggers.is_none()
    }

    /// Forgets triggers no request reported from now on could belong to.
    pub fn advance(&mut self, cfg: &FailedRequestConfig, now: i64) {
        if let Some(t) = &mut self.triggers {
            while t.front().is_some_and(|c| now > c.ts + cfg.window_ms + cfg.max_request_ms) {
                t.pop_front();
            }
            if t.is_empty() {
                self.triggers = None;
            }
        }
    }

    pub fn on_event(
        &mut self,
        cfg: &FailedRequestConfig,
        ev: &Event,
        click: Option<&Click<'_>>,
        page: Option<&Arc<str>>,
        emit: &mut Emit<'_>,
    ) {
        let trigger = match &ev.body {
            Body::Click { .. } => click.map(Click::to_ref),
            Body::Submit { sel } => Some(ClickRef::submit(ev, sel, page)),
            Body::Net { status, dur, .. } if *status == 0 || *status >= cfg.min_status => {
                let start = ev.ts - *dur as i64;
                // On the most recent trigger before the request started.
                let on = self.triggers.as_ref().and_then(|t| t.iter().rev().find(|c| c.ts <= start));
                if let Some(c) = on.filter(|c| start - c.ts <= cfg.window_ms) {
                    emit.signal(SignalKind::FailedRequest, c, ev.ts, 1, vec![c.seq, ev.seq]);
                }
                None
            }
            _ => None,
        };
        if let Some(c) = trigger {
            let t = self.triggers.get_or_insert_with(Default::default);
            if t.len() == MAX_TRIGGERS {
                t.pop_front();
            }
            t.push_back(c);
        }
    }
}
