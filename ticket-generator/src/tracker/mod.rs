//! Trackers: where tickets are filed, commented, reopened and read back.
//! Each implementation makes `create` idempotent its own way (Linear by a
//! client-chosen id derived from the issue, Jira by a label searched before
//! creating), so a retry after a lost answer never files a second ticket.

mod jira;
mod linear;

use std::time::Duration;

use serde_json::Value;
use ufse_incident_store::{RemoteState, Ticket};

pub(crate) use jira::state as jira_state;
pub use jira::{jira_labels, Jira};
pub(crate) use linear::remote_state as linear_state;
pub use linear::{linear_issue_id, Linear};

use crate::ticket::{adf, markdown, Block};
use crate::{BoxFuture, Draft};

/// A ticket the tracker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The tracker's own id.
    pub remote_id: String,
    /// Its human key (`ENG-123`).
    pub key: String,
    /// Its address.
    pub url: String,
    /// Its state.
    pub state: RemoteState,
}

/// A ticket whose state changed in the tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The tracker's own id.
    pub remote_id: String,
    /// Its human key.
    pub key: String,
    /// Its state now.
    pub state: RemoteState,
}

/// Why a tracker call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackerError {
    /// Worth trying again (a timeout, a 5xx, a rate limit), not before `after` when the tracker said.
    #[error("{message}")]
    Retry {
        /// What happened.
        message: String,
        /// The tracker's hint.
        after: Option<Duration>,
    },
    /// Trying again will not help (bad credentials, an invalid team or project).
    #[error("{0}")]
    Permanent(String),
}

impl TrackerError {
    pub(crate) fn retry(message: impl Into<String>) -> Self {
        TrackerError::Retry { message: message.into(), after: None }
    }
}

/// A comment's body, rendered as each tracker takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment(pub(crate) Vec<Block>);

impl Comment {
    /// A comment of one paragraph of `text`.
    pub fn text(text: impl Into<String>) -> Comment {
        Comment(vec![Block::Para(vec![crate::ticket::Inline::Text(text.into())])])
    }

    /// As Markdown.
    pub fn markdown(&self) -> String {
        markdown(&self.0)
    }

    /// As an ADF document.
    pub fn adf(&self) -> Value {
        adf(&self.0)
    }
}

/// A ticket tracker.
pub trait Tracker: Send + Sync + 'static {
    /// `linear` or `jira`.
    fn name(&self) -> &'static str;
    /// Files `draft`, or finds the ticket an earlier try filed for it.
    fn create<'a>(&'a self, draft: &'a Draft) -> BoxFuture<'a, Result<Created, TrackerError>>;
    /// Comments on `ticket`; `seed` names the comment, so posting it twice posts it once where the tracker allows.
    fn comment<'a>(
        &'a self,
        ticket: &'a Ticket,
        seed: &'a str,
        body: &'a Comment,
    ) -> BoxFuture<'a, Result<(), TrackerError>>;
    /// Moves `ticket` back to a not-started state; returns its state after.
    fn reopen<'a>(&'a self, ticket: &'a Ticket) -> BoxFuture<'a, Result<RemoteState, TrackerError>>;
    /// Tickets (UFSE's, in this tracker's team or project) changed since `since_ms`.
    fn changed_since<'a>(&'a self, since_ms: i64) -> BoxFuture<'a, Result<Vec<Changed>, TrackerError>>;
}

/// A digest of `parts` as a UUID in version 4 form (the version and
/// variant bits set), as Linear's schema asks of client-chosen ids.
pub(crate) fn uuid_v4_from(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\x1f");
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// ISO 8601 (`2026-12-07T20:15:00.000Z`) of ms since the epoch.
pub(crate) fn iso8601(ms: i64) -> String {
    format!("{}Z", ufse_schema::fmt_ms(ms).replacen(' ', "T", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_v4_uuids() {
        let a = uuid_v4_from(&["linear-issue", "default", "fp", "0"]);
        assert_eq!(a, uuid_v4_from(&["linear-issue", "default", "fp", "0"]));
        assert_ne!(a, uuid_v4_from(&["linear-issue", "default", "fp", "1"]));
        let b = a.as_bytes();
        assert_eq!((a.len(), b[8], b[13], b[18], b[23]), (36, b'-', b'-', b'-', b'-'));
        assert_eq!(b[14], b'4', "version 4");
        assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "RFC 4122 variant");
        assert_eq!(iso8601(1_732_750_000_123), "2024-11-27T23:26:40.123Z");
    }
}
