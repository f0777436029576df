//! `u_turn`: a navigation to a page, then straight back (a `pop`) to the
//! page before it: the user landed somewhere they did not mean to be.

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Event, NavType};

use super::Emit;
use crate::config::UTurnConfig;
use crate::SignalKind;

/// The last arrival on a new page, while going back would still be a u-turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Arrival {
    from: String,
    to: Option<String>,
    ts: i64,
    seq: u64,
}

/// A URL without its fragment: the page it shows.
fn page(url: &str) -> &str {
    url.split_once('#').map_or(url, |(page, _)| page)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct UTurn {
    arrival: Option<Box<Arrival>>,
}

impl UTurn {
    pub fn is_idle(&self) -> bool {
        self.arrival.is_none()
    }

    pub fn advance(&mut self, cfg: &UTurnConfig, now: i64) {
        if self.arrival.as_ref().is_some_and(|a| now > a.ts + cfg.window_ms) {
            self.arrival = None;
        }
    }

    /// `before` is the page before this event.
    pub fn on_event(&mut self, cfg: &UTurnConfig, ev: &Event, before: Option<&str>, emit: &mut Emit<'_>) {
        let Body::Nav { nav } = &ev.body else { return };
        let to = ev.url.as_deref();
        // Fragment-only changes and reloads stay on the page.
        if matches!(nav, NavType::Hash | NavType::Reload) || to.map(page) == before.map(page) {
            return;
        }
        if let Some(a) = self.arrival.take() {
            if *nav == NavType::Pop && to.map(page) == Some(page(&a.from)) && ev.ts - a.ts <= cfg.window_ms {
                emit.page_signal(SignalKind::UTurn, a.to.as_deref(), a.ts, ev.ts, 1, vec![a.seq, ev.seq]);
                return;
            }
        }
        self.arrival = before.map(|from| {
            Box::new(Arrival { from: from.to_owned(), to: to.map(str::to_owned), ts: ev.ts, seq: ev.seq })
        });
    }
}
