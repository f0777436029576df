//! A live session's running summary, kept compact: most live sessions are
//! idle, so every byte here is paid once per session in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ufse_engine::{Signal, SignalKind};
use ufse_schema::{Body, Event};

use crate::SessionSummary;

/// Kinds counted in a fixed array; others go to a map allocated on first use.
const KINDS: [&str; 13] = [
    "nav", "click", "input", "submit", "select", "scroll", "mutation", "move", "error", "net", "vis",
    "longtask", "custom",
];

/// What [`SessionSummary`] reports, without the project and sid (the
/// session's key has them) and without per-session maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Live {
    pub part: u32,
    pub uid: Option<Box<str>>,
    pub start_ts: i64,
    pub end_ts: i64,
    pages: u32,
    /// Shared with the engine's page while the session is on its first
    /// page, which most idle sessions are.
    first_url: Option<Arc<str>>,
    counts: [u32; KINDS.len()],
    /// Boxed: 8 bytes inline instead of 48 in every session, for counts
    /// most sessions never have.
    rare: Option<Box<Rare>>,
}

/// The counts few sessions have.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Rare {
    /// Events of kinds outside [`KINDS`].
    other: BTreeMap<String, u64>,
    signals: BTreeMap<SignalKind, u32>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            part: 0,
            uid: None,
            start_ts: i64::MAX,
            end_ts: i64::MIN,
            pages: 0,
            first_url: None,
            counts: [0; KINDS.len()],
            rare: None,
        }
    }
}

impl Live {
    /// Has evaluated at least one event.
    pub fn has_events(&self) -> bool {
        self.start_ts <= self.end_ts
    }

    /// Counts one evaluated event; `page` is the page it belongs to (after
    /// a `nav`, the one it led to).
    pub fn count_event(&mut self, ev: &Event, page: Option<&Arc<str>>) {
        self.start_ts = self.start_ts.min(ev.ts);
        self.end_ts = self.end_ts.max(ev.ts);
        if let Body::Nav { .. } = ev.body {
            self.pages += 1;
            if self.first_url.is_none() {
                self.first_url = page.cloned();
            }
        }
        match KINDS.iter().position(|k| *k == ev.kind()) {
            Some(i) => self.counts[i] += 1,
            None => *self.rare.get_or_insert_default().other.entry(ev.kind().to_owned()).or_default() += 1,
        }
    }

    pub fn count_signals(&mut self, signals: &[Signal]) {
        for s in signals {
            *self.rare.get_or_insert_default().signals.entry(s.kind).or_default() += 1;
        }
    }

    /// The next part of the same sid: counts start over, the user stays.
    pub fn next_part(&mut self) {
        *self = Live { part: self.part + 1, uid: self.uid.take(), ..Live::default() };
    }

    pub fn summary(&self, project: &str, sid: &str, ended: bool) -> SessionSummary {
        let mut counts: BTreeMap<String, u64> =
            self.rare.as_ref().map(|r| r.other.clone()).unwrap_or_default();
        for (k, n) in KINDS.iter().zip(self.counts) {
            if n > 0 {
                counts.insert((*k).to_owned(), u64::from(n));
            }
        }
        SessionSummary {
            project: project.to_owned(),
            sid: sid.to_owned(),
            part: self.part,
            uid: self.uid.as_deref().map(str::to_owned),
            start_ts: self.start_ts,
            end_ts: self.end_ts,
            pages: self.pages,
            first_url: self.first_url.as_deref().map(str::to_owned),
            counts,
            signals: self
                .rare
                .iter()
                .flat_map(|r| r.signals.iter())
                .map(|(k, n)| (k.as_str().to_owned(), u64::from(*n)))
                .collect(),
            ended,
        }
    }
}
