//! The rules. Each keeps its own per-session state, serializable for
//! snapshots, and sees events in `(ts, seq)` order.

mod dead_click;
mod error_click;
mod failed_request;
mod fold;
mod form_loop;
mod rage_click;
mod reversals;
mod u_turn;
mod unresponsive;

pub(crate) use dead_click::DeadClick;
pub(crate) use error_click::ErrorClick;
pub(crate) use failed_request::FailedRequest;
pub(crate) use fold::{Fold, Timing};
pub(crate) use form_loop::FormLoop;
pub(crate) use rage_click::RageClick;
pub(crate) use reversals::{Reversals, Sample};

/// Most events a signal lists as evidence; `count` stays exact beyond it.
/// Runs and bursts can go on for as long as a session lasts (an
/// autoclicker, a jiggling mouse), and neither their state nor one
/// incident should grow with them.
pub(crate) const MAX_EVIDENCE: usize = 1000;

/// Evidence that may keep growing: the first [`MAX_EVIDENCE`] items, and
/// how many there were in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Capped<T> {
    items: Vec<T>,
    count: u32,
}

impl<T> Default for Capped<T> {
    fn default() -> Self {
        Capped { items: Vec::new(), count: 0 }
    }
}

impl<T> Capped<T> {
    pub fn push(&mut self, item: T) {
        self.count += 1;
        if self.items.len() < MAX_EVIDENCE {
            self.items.push(item);
        }
    }

    /// How many were pushed, kept or not.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The items kept, oldest first.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}
pub(crate) use u_turn::UTurn;
pub(crate) use unresponsive::Unresponsive;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Element, Event};

use crate::{Signal, SignalKind};

/// What rules remember of a click (or a submit). The strings are shared:
/// one is built per click and every rule keeping it holds a cheap clone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClickRef {
    pub seq: u64,
    pub ts: i64,
    pub x: f64,
    pub y: f64,
    pub sel: Arc<str>,
    pub url: Option<Arc<str>>,
}

/// A click event seen by the rules, with its page resolved.
pub(crate) struct Click<'a> {
    pub ev: &'a Event,
    pub el: &'a Element,
    pub r: ClickRef,
}

impl<'a> Click<'a> {
    pub fn of(ev: &'a Event, page: Option<&Arc<str>>) -> Option<Self> {
        match &ev.body {
            Body::Click { x, y, sel, el, .. } => Some(Click {
                ev,
                el,
                r: ClickRef {
                    seq: ev.seq,
                    ts: ev.ts,
                    x: *x,
                    y: *y,
                    sel: Arc::from(sel.as_str()),
                    url: own_url(ev, page),
                },
            }),
            _ => None,
        }
    }

    /// The click's selector.
    pub fn sel(&self) -> &str {
        &self.r.sel
    }

    /// The click's label (`txt`).
    pub fn txt(&self) -> Option<&'a str> {
        match &self.ev.body {
            Body::Click { txt, .. } => txt.as_deref(),
            _ => None,
        }
    }

    pub fn to_ref(&self) -> ClickRef {
        self.r.clone()
    }
}

/// The event's own `url`, else the page's (shared, not copied).
fn own_url(ev: &Event, page: Option<&Arc<str>>) -> Option<Arc<str>> {
    match ev.url.as_deref() {
        Some(url) => Some(Arc::from(url)),
        None => page.cloned(),
    }
}

impl ClickRef {
    /// A `submit` as a trigger of what follows it (it has no position).
    pub fn submit(ev: &Event, sel: &str, page: Option<&Arc<str>>) -> Self {
        ClickRef { seq: ev.seq, ts: ev.ts, x: 0.0, y: 0.0, sel: Arc::from(sel), url: own_url(ev, page) }
    }
}

/// Where rules put what they find.
pub(crate) struct Emit<'a> {
    pub sid: &'a str,
    pub out: &'a mut Vec<Signal>,
}

impl Emit<'_> {
    /// Emits a signal whose `sel` and `url` are those of `first`.
    pub fn signal(
        &mut self,
        kind: SignalKind,
        first: &ClickRef,
        end_ts: i64,
        count: u32,
        evidence: Vec<u64>,
    ) {
        let (sel, url) = (Some(first.sel.to_string()), first.url.as_deref().map(str::to_owned));
        self.push(kind, first.ts, end_ts, count, evidence, sel, url);
    }

    /// Emits a page-level signal: no selector, the page as `url`.
    pub fn page_signal(
        &mut self,
        kind: SignalKind,
        url: Option<&str>,
        ts: i64,
        end_ts: i64,
        count: u32,
        evidence: Vec<u64>,
    ) {
        self.push(kind, ts, end_ts, count, evidence, None, url.map(str::to_owned));
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: SignalKind,
        ts: i64,
        end_ts: i64,
        count: u32,
        mut evidence: Vec<u64>,
        sel: Option<String>,
        url: Option<String>,
    ) {
        evidence.sort_unstable();
        self.out.push(Signal { kind, sid: self.sid.to_owned(), ts, end_ts, count, evidence, sel, url });
    }
}
