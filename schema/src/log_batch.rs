//! The log record format (version 2): one accepted batch, as the edge
//! appends it to the event log and processors read it back.
//!
//! ```text
//! u8 version (2)
//! u32 header length, header JSON:
//!     {"project":"default","sid":"...","uid":null,"received_ms":1732750000500,
//!      "skew_ms":44,"sdk_dropped":0,"ctx":{...}}
//! u32 event count, then per event: u32 length, the event's binary form
//! ```
//!
//! Integers are little-endian. The record key is `project:sid`, so one
//! session's batches stay in one partition, in order. Events are stored
//! validated, in the binary form of the `binary` module (unknown kinds and
//! fields keep their JSON text), so readers need no JSON parser for them.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::binary::{decode_event, encode_event_list, split_event_list, BinaryError};
use crate::event::Event;
use crate::validate::ParsedBatch;

/// Version of this record format, the record's first byte. Version 1
/// was JSON throughout; version 2 keeps events in their binary form.
pub const LOG_FORMAT_VERSION: u64 = 2;

/// The widest skew correction applied: a client clock further off than this
/// is treated as broken rather than trusted.
pub const MAX_SKEW_MS: i64 = 7 * 24 * 3600 * 1000;

/// One accepted batch, with what the edge knew when it took it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogBatch {
    /// Project name.
    pub project: String,
    /// Session id.
    pub sid: String,
    /// User id.
    pub uid: Option<String>,
    /// Server clock when the edge received the batch, ms.
    pub received_ms: i64,
    /// Clock-skew offset for this batch, see [`skew_offset`].
    pub skew_ms: i64,
    /// Events the SDK reported having discarded.
    pub sdk_dropped: u64,
    /// Client context.
    pub ctx: Option<Map<String, Value>>,
    /// Valid events in batch order.
    pub events: Vec<Event>,
}

/// Why a log record could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Not JSON, or not an object of the expected shape.
    #[error("log record is malformed: {0}")]
    Malformed(String),
    /// A version this build does not read.
    #[error("log record version {0} is not supported")]
    Version(u64),
}

/// The skew offset of a batch: `received_ms - sent_at`, clamped to
/// `±MAX_SKEW_MS`; 0 without `sent_at`.
///
/// The corrected time of an event is `ts + offset` (see [`corrected_ts`]).
/// The offset also absorbs the batch's transit time, which is small next to
/// the skews it exists to fix (clocks minutes or hours off).
pub fn skew_offset(received_ms: i64, sent_at: Option<i64>) -> i64 {
    sent_at.map_or(0, |s| (received_ms - s).clamp(-MAX_SKEW_MS, MAX_SKEW_MS))
}

/// An event's skew-corrected time: `ts + offset`, clamped into
/// `[received_ms - MAX_SKEW_MS, received_ms]` (nothing happened after the
/// server received it). For storage, display and retention only; rules use
/// the client `ts`.
pub fn corrected_ts(ts: i64, skew_ms: i64, received_ms: i64) -> i64 {
    (ts + skew_ms).clamp(received_ms - MAX_SKEW_MS, received_ms)
}

/// The log key of a session: `project:sid`.
pub fn log_key(project: &str, sid: &str) -> String {
    format!("{project}:{sid}")
}

impl LogBatch {
    /// Builds the record for a validated batch.
    pub fn from_parsed(project: &str, received_ms: i64, b: ParsedBatch) -> Self {
        LogBatch {
            project: project.to_owned(),
            skew_ms: skew_offset(received_ms, b.sent_at),
            sid: b.sid,
            uid: b.uid,
            received_ms,
            sdk_dropped: b.sdk_dropped,
            ctx: b.ctx,
            events: b.events,
        }
    }

    /// Encodes the record: a version byte, the batch's fields as a small
    /// JSON header, then each event in its binary form (see `binary`),
    /// each prefixed with its length.
    pub fn encode(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Head<'a> {
            project: &'a str,
            sid: &'a str,
            uid: &'a Option<String>,
            received_ms: i64,
            skew_ms: i64,
            sdk_dropped: u64,
            ctx: &'a Option<Map<String, Value>>,
        }
        let head = serde_json::to_vec(&Head {
            project: &self.project,
            sid: &self.sid,
            uid: &self.uid,
            received_ms: self.received_ms,
            skew_ms: self.skew_ms,
            sdk_dropped: self.sdk_dropped,
            ctx: &self.ctx,
        })
        .expect("log batch header serialization is infallible");
        let mut out = Vec::with_capacity(head.len() + 16 + self.events.len() * 96);
        out.push(LOG_FORMAT_VERSION as u8);
        out.extend_from_slice(&(head.len() as u32).to_le_bytes());
        out.extend_from_slice(&head);
        encode_event_list(self.events.iter(), &mut out);
        out
    }

    /// Decodes a record written by [`LogBatch::encode`].
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a record of this version.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_raw(bytes).map(|(batch, _)| batch)
    }

    /// Like [`LogBatch::decode`], also returning each event's stored bytes
    /// (its binary form), which identify it for deduplication.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a record of this version.
    pub fn decode_raw(bytes: &[u8]) -> Result<(Self, Vec<&[u8]>), DecodeError> {
        #[derive(serde::Deserialize)]
        struct Head {
            project: String,
            sid: String,
            #[serde(default)]
            uid: Option<String>,
            received_ms: i64,
            skew_ms: i64,
            #[serde(default)]
            sdk_dropped: u64,
            #[serde(default)]
            ctx: Option<Map<String, Value>>,
        }
        let bad = |what: &str| DecodeError::Malformed(what.to_owned());
        let (&version, mut rest) = bytes.split_first().ok_or_else(|| bad("empty record"))?;
        if u64::from(version) != LOG_FORMAT_VERSION {
            return Err(DecodeError::Version(u64::from(version)));
        }
        let mut take = |n: usize| -> Result<&[u8], DecodeError> {
            if rest.len() < n {
                return Err(bad("truncated record"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        let len = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("four bytes")) as usize;
        let head_len = len(take(4)?);
        let head: Head =
            serde_json::from_slice(take(head_len)?).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let malformed = |e: BinaryError| DecodeError::Malformed(e.to_string());
        let (raw, rest) = split_event_list(rest).map_err(malformed)?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the events"));
        }
        let events = raw.iter().map(|ev| decode_event(ev)).collect::<Result<_, _>>().map_err(malformed)?;
        let batch = LogBatch {
            project: head.project,
            sid: head.sid,
            uid: head.uid,
            received_ms: head.received_ms,
            skew_ms: head.skew_ms,
            sdk_dropped: head.sdk_dropped,
            ctx: head.ctx,
            events,
        };
        Ok((batch, raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{parse_batch, Limits};

    #[test]
    fn skew_is_received_minus_sent_and_clamped() {
        assert_eq!(skew_offset(10_000, Some(9_000)), 1_000);
        assert_eq!(skew_offset(10_000, None), 0);
        assert_eq!(skew_offset(0, Some(MAX_SKEW_MS * 3)), -MAX_SKEW_MS);
        // A client 1 h behind: its events move forward 1 h, but never past receipt.
        let received = 1_732_750_000_000;
        let skew = skew_offset(received, Some(received - 3_600_000));
        assert_eq!(corrected_ts(received - 3_600_000 - 500, skew, received), received - 500);
        assert_eq!(corrected_ts(received + 10_000, 0, received), received);
    }

    #[test]
    fn record_round_trips() {
        let body = br#"{"v":1,"sid":"s-1","uid":"u","sent_at":1000,"ctx":{"vh":700},"events":[
            {"t":"nav","ts":900,"seq":1,"url":"https://a/b","nav":"load"},
            {"t":"custom","ts":950,"seq":2,"name":"x","props":{"a":1},"zz":[]}]}"#;
        let parsed = parse_batch(body, &Limits::default()).unwrap();
        let rec = LogBatch::from_parsed("default", 1500, parsed);
        assert_eq!(rec.skew_ms, 500);
        let back = LogBatch::decode(&rec.encode()).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn unknown_record_versions_and_damage_are_refused() {
        // A version-1 record was JSON: its first byte is `{`.
        assert!(matches!(LogBatch::decode(br#"{"lv":1}"#), Err(DecodeError::Version(123))));
        assert!(matches!(LogBatch::decode(b""), Err(DecodeError::Malformed(_))));
        let body = br#"{"v":1,"sid":"s","events":[{"t":"select","ts":1,"seq":1}]}"#;
        let rec = LogBatch::from_parsed("p", 0, parse_batch(body, &Limits::default()).unwrap()).encode();
        for n in 1..rec.len() {
            assert!(LogBatch::decode(&rec[..n]).is_err(), "a record cut to {n} bytes");
        }
        let mut huge_count = rec.clone();
        let count_at = 1 + 4 + u32::from_le_bytes(rec[1..5].try_into().unwrap()) as usize;
        huge_count[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LogBatch::decode(&huge_count).is_err());
    }
}
