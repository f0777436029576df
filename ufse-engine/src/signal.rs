//! Signals: one detection by one rule in one session.

use serde::{Deserialize, Serialize};

/// The kinds of signal the engine emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignalKind {
    /// Repeated clicks in one spot in quick succession.
    RageClick,
    /// A click nothing reacted to.
    DeadClick,
    /// A click followed by an uncaught error.
    ErrorClick,
}

impl SignalKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::RageClick => "rage_click",
            SignalKind::DeadClick => "dead_click",
            SignalKind::ErrorClick => "error_click",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rage_click" => SignalKind::RageClick,
            "dead_click" => SignalKind::DeadClick,
            "error_click" => SignalKind::ErrorClick,
            _ => return None,
        })
    }
}

/// One detection, in the exact shape `ufse detect` prints (DESIGN.md section 5):
/// these eight fields in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// What was detected.
    pub kind: SignalKind,
    /// Session id.
    pub sid: String,
    /// Client time of the first evidence event.
    pub ts: i64,
    /// Client time of the last evidence event (for a dead click: click plus window).
    pub end_ts: i64,
    /// Clicks for click kinds, else 1.
    pub count: u32,
    /// `seq`s of the events that caused it, ascending.
    pub evidence: Vec<u64>,
    /// Selector of the first click.
    pub sel: Option<String>,
    /// Page of the first click.
    pub url: Option<String>,
}

impl Signal {
    /// The canonical order of `ufse detect` output: `(sid, ts, kind, evidence)`.
    pub fn sort_key(&self) -> (&str, i64, &'static str, &[u64]) {
        (&self.sid, self.ts, self.kind.as_str(), &self.evidence)
    }
}
