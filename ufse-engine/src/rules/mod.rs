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
pub(crate) use fold::Fold;
pub(crate) use form_loop::FormLoop;
pub(crate) use rage_click::RageClick;
pub(crate) use reversals::{Reversals, Sample};

/// Most events a signal lists as evidence; `count` stays exact beyond it.
/// Runs and bursts can go on for as long as a session lasts (an
/// autoclicker, a jiggling mouse), and neither their state nor one
/// incident should grow with them.
pub(crate) const MAX_EVIDENCE: usize = 1000;
pub(crate) use u_turn::UTurn;
pub(crate) use unresponsive::Unresponsive;

use serde::{Deserialize, Serialize};
use ufse_schema::{Body, Element, Event};

use crate::{Signal, SignalKind};

/// What rules remember of a click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClickRef {
    pub seq: u64,
    pub ts: i64,
    pub x: f64,
    pub y: f64,
    pub sel: String,
    pub url: Option<String>,
}

/// A click event seen by the rules, with its page resolved.
pub(crate) struct Click<'a> {
    pub ev: &'a Event,
    pub x: f64,
    pub y: f64,
    pub sel: &'a str,
    pub el: &'a Element,
    pub url: Option<&'a str>,
}

impl<'a> Click<'a> {
    pub fn of(ev: &'a Event, page: Option<&'a str>) -> Option<Self> {
        match &ev.body {
            Body::Click { x, y, sel, el, .. } => {
                Some(Click { ev, x: *x, y: *y, sel, el, url: ev.url.as_deref().or(page) })
            }
            _ => None,
        }
    }

    /// The click's label (`txt`).
    pub fn txt(&self) -> Option<&'a str> {
        match &self.ev.body {
            Body::Click { txt, .. } => txt.as_deref(),
            _ => None,
        }
    }

    pub fn to_ref(&self) -> ClickRef {
        ClickRef {
            seq: self.ev.seq,
            ts: self.ev.ts,
            x: self.x,
            y: self.y,
            sel: self.sel.to_owned(),
            url: self.url.map(str::to_owned),
        }
    }
}

impl ClickRef {
    /// A `submit` as a trigger of what follows it (it has no position).
    pub fn submit(ev: &Event, sel: &str, page: Option<&str>) -> Self {
        ClickRef {
            seq: ev.seq,
            ts: ev.ts,
            x: 0.0,
            y: 0.0,
            sel: sel.to_owned(),
            url: ev.url.as_deref().or(page).map(str::to_owned),
        }
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
        mut evidence: Vec<u64>,
    ) {
        evidence.sort_unstable();
        self.out.push(Signal {
            kind,
            sid: self.sid.to_owned(),
            ts: first.ts,
            end_ts,
            count,
            evidence,
            sel: Some(first.sel.clone()),
            url: first.url.clone(),
        });
    }

    /// Emits a page-level signal: no selector, the page as `url`.
    pub fn page_signal(
        &mut self,
        kind: SignalKind,
        url: Option<&str>,
        ts: i64,
        end_ts: i64,
        count: u32,
        mut evidence: Vec<u64>,
    ) {
        evidence.sort_unstable();
        self.out.push(Signal {
            kind,
            sid: self.sid.to_owned(),
            ts,
            end_ts,
            count,
            evidence,
            sel: None,
            url: url.map(str::to_owned),
        });
    }
}
