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
use serde_json::{Map, Value};

use crate::event::Event;
use crate::validate::{parse_event, ParsedBatch};

/// Version of this record format, written as `lv`.
pub const LOG_FORMAT_VERSION: u64 = 1;

/// The widest skew correction applied: a client clock further off than this
/// is treated as broken rather than trusted.
pub const MAX_SKEW_MS: i64 = 7 * 24 * 3600 * 1000;

/// One accepted batch, with what the edge knew when it took it.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        #[derive(Serialize)]
        struct Versioned<'a> {
            lv: u64,
            #[serde(flatten)]
            batch: &'a LogBatch,
        }
        serde_json::to_vec(&Versioned { lv: LOG_FORMAT_VERSION, batch: self })
            .expect("log batch serialization is infallible")
    }

    /// Decodes a record written by [`LogBatch::encode`].
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a version-1 record.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bad = |what: &str| DecodeError::Malformed(what.to_owned());
        let v: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let Value::Object(mut m) = v else { return Err(bad("not an object")) };
        match m.get("lv").and_then(Value::as_u64) {
            Some(LOG_FORMAT_VERSION) => {}
            Some(v) => return Err(DecodeError::Version(v)),
            None => return Err(bad("no `lv`")),
        }
        let string = |m: &mut Map<String, Value>, k: &str| match m.remove(k) {
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) => Ok(None),
            Some(_) => Err(DecodeError::Malformed(format!("`{k}` is not a string"))),
        };
        let project = string(&mut m, "project")?.ok_or_else(|| bad("no `project`"))?;
        let sid = string(&mut m, "sid")?.ok_or_else(|| bad("no `sid`"))?;
        let uid = string(&mut m, "uid")?;
        let int = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_i64).unwrap_or(0);
        let received_ms = int(&m, "received_ms");
        let skew_ms = int(&m, "skew_ms");
        let sdk_dropped = m.get("sdk_dropped").and_then(Value::as_u64).unwrap_or(0);
        let ctx = match m.remove("ctx") {
            Some(Value::Object(c)) => Some(c),
            _ => None,
        };
        let Some(Value::Array(raw)) = m.remove("events") else { return Err(bad("no `events`")) };
        let mut events = Vec::with_capacity(raw.len());
        for ev in raw {
            let Value::Object(ev) = ev else { return Err(bad("an event is not an object")) };
            events.push(
                parse_event(ev)
                    .map_err(|e| DecodeError::Malformed(format!("stored event invalid: {}", e.reason)))?,
            );
        }
        Ok(LogBatch { project, sid, uid, received_ms, skew_ms, sdk_dropped, ctx, events })
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
    fn unknown_record_versions_are_refused() {
        assert!(matches!(LogBatch::decode(br#"{"lv":2}"#), Err(DecodeError::Version(2))));
        assert!(matches!(LogBatch::decode(b"nope"), Err(DecodeError::Malformed(_))));
    }
}
