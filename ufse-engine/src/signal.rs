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
    /// A click whose first reaction came late.
    SlowClick,
    /// A request started by a click or submit failed.
    FailedRequest,
    /// The same form submitted again and again.
    FormLoop,
    /// The pointer swung back and forth.
    ThrashedCursor,
    /// A page left again right after arriving.
    UTurn,
    /// Scrolling up and down, searching.
    ExcessiveScroll,
    /// The main thread blocked right after a click.
    Unresponsive,
}

impl SignalKind {
    /// Every kind with its stable name.
    pub const ALL: [(SignalKind, &'static str); 10] = [
        (SignalKind::RageClick, "rage_click"),
        (SignalKind::DeadClick, "dead_click"),
        (SignalKind::ErrorClick, "error_click"),
        (SignalKind::SlowClick, "slow_click"),
        (SignalKind::FailedRequest, "failed_request"),
        (SignalKind::FormLoop, "form_loop"),
        (SignalKind::ThrashedCursor, "thrashed_cursor"),
        (SignalKind::UTurn, "u_turn"),
        (SignalKind::ExcessiveScroll, "excessive_scroll"),
        (SignalKind::Unresponsive, "unresponsive"),
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        Self::ALL[self as usize].1
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, name)| *name == s).map(|(k, _)| *k)
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
    /// Clicks (rage, dead, slow), reversals (thrashed cursor, excessive
    /// scroll), submits (form loop), else 1.
    pub count: u32,
    /// `seq`s of the events that caused it, ascending.
    pub evidence: Vec<u64>,
    /// Selector of the first click; `None` for page-level kinds.
    pub sel: Option<String>,
    /// Page of the first click, or the page for page-level kinds.
    pub url: Option<String>,
}

impl Signal {
    /// The canonical order of `ufse detect` output: `(sid, ts, kind, evidence)`.
    pub fn sort_key(&self) -> (&str, i64, &'static str, &[u64]) {
        (&self.sid, self.ts, self.kind.as_str(), &self.evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for (i, (kind, name)) in SignalKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "ALL is in declaration order");
            assert_eq!(kind.as_str(), *name);
            assert_eq!(SignalKind::parse(name), Some(*kind));
            assert_eq!(serde_json::to_string(kind).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(SignalKind::parse("rage"), None);
    }
}
