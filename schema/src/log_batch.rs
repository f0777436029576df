//! The log record format (version 1): one accepted batch, as the edge
//! appends it to the event log and processors read it back.
//!
//! ```json
//! {"lv":1,"project":"default","sid":"...","uid":null,"received_ms":1732750000500,
//!  "skew_ms":44,"sdk_dropped":0,"ctx":{...},"events":[{"t":"nav",...}]}
//! ```
//!
//! The record key is `project:sid`, so one session's batches stay in one
//! partition, in order. Events are stored in their validated wire form, so a
//! reader re-validates them with the same code the edge used.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::event::Event;
use crate::validate::{parse_event_json, ParsedBatch};

/// Version of this record format, written as `lv`.
pub const LOG_FORMAT_VERSION: u64 = 1;

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

    /// Encodes the record (JSON, with `lv` first).
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with_raw(&[])
    }

    /// Encodes the record, copying `raw[i]` (event `i`'s JSON text exactly
    /// as received) where given instead of serializing the event again.
    /// Readers parse and normalize events either way.
    pub fn encode_with_raw(&self, raw: &[Option<&[u8]>]) -> Vec<u8> {
        #[derive(Serialize)]
        struct Head<'a> {
            lv: u64,
            project: &'a str,
            sid: &'a str,
            uid: &'a Option<String>,
            received_ms: i64,
            skew_ms: i64,
            sdk_dropped: u64,
            ctx: &'a Option<Map<String, Value>>,
        }
        let head = Head {
            lv: LOG_FORMAT_VERSION,
            project: &self.project,
            sid: &self.sid,
            uid: &self.uid,
            received_ms: self.received_ms,
            skew_ms: self.skew_ms,
            sdk_dropped: self.sdk_dropped,
            ctx: &self.ctx,
        };
        let mut out = serde_json::to_vec(&head).expect("log batch serialization is infallible");
        out.pop(); // the closing brace: the events follow
        out.extend_from_slice(b",\"events\":[");
        for (i, ev) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match raw.get(i).copied().flatten() {
                Some(text) => out.extend_from_slice(text),
                None => serde_json::to_writer(&mut out, ev).expect("event serialization is infallible"),
            }
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// Decodes a record written by [`LogBatch::encode`].
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a version-1 record.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_raw(bytes).map(|(batch, _)| batch)
    }

    /// Like [`LogBatch::decode`], also returning each event's stored JSON
    /// text (its canonical wire form), so readers need not serialize it again.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a version-1 record.
    pub fn decode_raw(bytes: &[u8]) -> Result<(Self, Vec<&str>), DecodeError> {
        #[derive(serde::Deserialize)]
        struct Record<'a> {
            lv: u64,
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
            #[serde(borrow)]
            events: Vec<&'a RawValue>,
        }
        #[derive(serde::Deserialize)]
        struct Version {
            lv: u64,
        }
        let rec: Record<'_> = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            // A record of another version may not have this shape: say so.
            Err(e) => {
                return Err(match serde_json::from_slice::<Version>(bytes) {
                    Ok(v) if v.lv != LOG_FORMAT_VERSION => DecodeError::Version(v.lv),
                    _ => DecodeError::Malformed(e.to_string()),
                })
            }
        };
        if rec.lv != LOG_FORMAT_VERSION {
            return Err(DecodeError::Version(rec.lv));
        }
        let mut events = Vec::with_capacity(rec.events.len());
        let mut raw = Vec::with_capacity(rec.events.len());
        let mut truncated = Vec::new();
        for ev in rec.events {
            // Stored events were validated and truncated by the edge.
            let e = parse_event_json(ev.get(), usize::MAX, &mut truncated)
                .map_err(|e| DecodeError::Malformed(format!("stored event invalid: {}", e.reason)))?;
            events.push(e);
            raw.push(ev.get());
        }
        let batch = LogBatch {
            project: rec.project,
            sid: rec.sid,
            uid: rec.uid,
            received_ms: rec.received_ms,
            skew_ms: rec.skew_ms,
            sdk_dropped: rec.sdk_dropped,
            ctx: rec.ctx,
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
    fn events_copied_as_received_decode_to_the_same_record() {
        let body = br#"{"v":1,"sid":"s","events":[
            {"t":"click","ts":5,"seq":1,"x":1,"y":2,"sel":"b","el":{"tag":"BUTTON"},"zz":1},
            {"t":"error","ts":6,"seq":2,"msg":"xxxxxxxxxx","kind":"error"}]}"#;
        let limits = Limits { max_events: 10, max_string_bytes: 8 };
        let parsed = parse_batch(body, &limits).unwrap();
        assert!(parsed.raw[0].is_some(), "untouched: copied");
        assert!(parsed.raw[1].is_none(), "truncated: serialized again");
        let raw: Vec<Option<&[u8]>> = parsed.raw.iter().map(|r| r.clone().map(|r| &body[r])).collect();
        let rec = LogBatch::from_parsed("p", 10, parsed);
        let bytes = rec.encode_with_raw(&raw);
        assert!(bytes.windows(6).any(|w| w == b"BUTTON"), "the first event is the sender's text");
        let (back, texts) = LogBatch::decode_raw(&bytes).unwrap();
        assert_eq!(back, rec);
        assert_eq!(texts[0].as_bytes(), raw[0].unwrap());
        assert_eq!(LogBatch::decode(&rec.encode()).unwrap(), rec);
    }

    #[test]
    fn unknown_record_versions_are_refused() {
        assert!(matches!(LogBatch::decode(br#"{"lv":2}"#), Err(DecodeError::Version(2))));
        assert!(matches!(LogBatch::decode(b"nope"), Err(DecodeError::Malformed(_))));
    }
}
