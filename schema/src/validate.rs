//! Validation of wire-format v1 batches (DESIGN.md section 2).
//!
//! A malformed envelope rejects the whole batch with one [`RejectReason`];
//! within a valid envelope each event is validated on its own, and a bad
//! event is dropped with one [`DropReason`] while the rest are accepted.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{Body, Element, ErrorKind, Event, NavType, Visibility};
use crate::reason::{DropReason, RejectReason};

/// Largest accepted `ts`/`sent_at`: the last millisecond of year 9999.
pub const MAX_TS: i64 = 253_402_300_799_999;
/// Largest accepted `seq`: the largest integer a JS number holds exactly.
pub const MAX_SEQ: u64 = (1 << 53) - 1;
/// Longest `sel` in bytes.
pub const MAX_SEL_BYTES: usize = 512;
/// Longest `sid` in characters.
pub const MAX_SID_CHARS: usize = 128;
/// Longest `uid` in characters.
pub const MAX_UID_CHARS: usize = 256;

/// Limits applied while validating; the byte limits on the body are the edge's.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Events per batch (over it: `too_many_events`).
    pub max_events: usize,
    /// Strings longer than this many bytes are truncated, UTF-8 safe, and reported.
    pub max_string_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_events: 2000, max_string_bytes: 8 * 1024 }
    }
}

/// A refused batch: one reason and a human-readable detail naming the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    /// Stable reason.
    pub reason: RejectReason,
    /// What exactly was wrong.
    pub detail: String,
}

impl Rejection {
    /// A rejection with a detail message.
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection { reason, detail: detail.into() }
    }
}

/// One event that was dropped, for the 202 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Position in the batch's `events`.
    pub index: usize,
    /// The event's `seq`, when it had a valid one.
    pub seq: Option<u64>,
    /// Why.
    #[serde(serialize_with = "ser_drop_reason")]
    pub reason: DropReason,
    /// The offending field, for field-level reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

fn ser_drop_reason<S: serde::Serializer>(r: &DropReason, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.as_str())
}

/// One string that was truncated, for the 202 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Truncated {
    /// Position in `events`, or `None` for the envelope (`ctx`).
    pub index: Option<usize>,
    /// Dotted path of the field.
    pub field: String,
}

/// A batch whose envelope is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBatch {
    /// Session id.
    pub sid: String,
    /// User id.
    pub uid: Option<String>,
    /// Client clock when sent, ms.
    pub sent_at: Option<i64>,
    /// Events the SDK discarded since its last batch.
    pub sdk_dropped: u64,
    /// Client context.
    pub ctx: Option<Map<String, Value>>,
    /// Valid events, in batch order.
    pub events: Vec<Event>,
    /// Dropped events.
    pub dropped: Vec<Dropped>,
    /// Truncated strings.
    pub truncated: Vec<Truncated>,
}

/// Parses and validates a decompressed batch body.
///
/// # Errors
///
/// A [`Rejection`] when the body or the envelope is malformed, or the batch
/// is over `limits.max_events`.
pub fn parse_batch(body: &[u8], limits: &Limits) -> Result<ParsedBatch, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::new(RejectReason::EmptyBody, "the request body is empty"));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Rejection::new(RejectReason::InvalidJson, e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(Rejection::new(RejectReason::NotAnObject, "the batch must be a JSON object"));
    };
    match obj.get("v") {
        None => return Err(Rejection::new(RejectReason::MissingVersion, "`v` is required")),
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            return Err(Rejection::new(RejectReason::UnsupportedVersion, format!("`v` must be 1, got {v}")))
        }
    }
    let sid = match obj.get("sid") {
        None | Some(Value::Null) => {
            return Err(Rejection::new(RejectReason::MissingSid, "`sid` is required"))
        }
        Some(Value::String(s)) if valid_sid(s) => s.clone(),
        Some(_) => {
            return Err(Rejection::new(
                RejectReason::BadSid,
                "`sid` must be 1 to 128 characters of [A-Za-z0-9_.:-]",
            ))
        }
    };
    let uid = match obj.get("uid") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_UID_CHARS => Some(s.clone()),
        Some(_) => {
            return Err(Rejection::new(
                RejectReason::BadUid,
                "`uid` must be a string of at most 256 characters",
            ))
        }
    };
    let sent_at = match obj.get("sent_at") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(t) if (0..=MAX_TS).contains(&t) => Some(t),
            _ => {
                return Err(Rejection::new(
                    RejectReason::BadSentAt,
                    format!("`sent_at` must be an integer ms time, got {v}"),
                ))
            }
        },
    };
    let sdk_dropped = match obj.get("dropped") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_u64().ok_or_else(|| {
            Rejection::new(
                RejectReason::BadDropped,
                format!("`dropped` must be a non-negative integer, got {v}"),
            )
        })?,
    };
    let mut truncated = Vec::new();
    let ctx = match obj.remove("ctx") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut m)) => {
            let mut paths = Vec::new();
            truncate_map(&mut m, "ctx", limits.max_string_bytes, &mut paths);
            truncated.extend(paths.into_iter().map(|field| Truncated { index: None, field }));
            Some(m)
        }
        Some(_) => return Err(Rejection::new(RejectReason::BadCtx, "`ctx` must be an object")),
    };
    let raw_events = match obj.remove("events") {
        None | Some(Value::Null) => {
            return Err(Rejection::new(RejectReason::MissingEvents, "`events` is required"))
        }
        Some(Value::Array(a)) => a,
        Some(_) => return Err(Rejection::new(RejectReason::BadEvents, "`events` must be an array")),
    };
    if raw_events.len() > limits.max_events {
        return Err(Rejection::new(
            RejectReason::TooManyEvents,
            format!("{} events, the limit is {}", raw_events.len(), limits.max_events),
        ));
    }

    let mut events = Vec::with_capacity(raw_events.len());
    let mut dropped = Vec::new();
    for (index, raw) in raw_events.into_iter().enumerate() {
        let Value::Object(mut m) = raw else {
            dropped.push(Dropped { index, seq: None, reason: DropReason::EventNotObject, field: None });
            continue;
        };
        let mut paths = Vec::new();
        truncate_map(&mut m, "", limits.max_string_bytes, &mut paths);
        match parse_event(m) {
            Ok(ev) => {
                truncated.extend(paths.into_iter().map(|field| Truncated { index: Some(index), field }));
                events.push(ev);
            }
            Err(e) => dropped.push(Dropped {
                index,
                seq: e.seq,
                reason: e.reason,
                field: e.field.map(str::to_owned),
            }),
        }
    }
    Ok(ParsedBatch { sid, uid, sent_at, sdk_dropped, ctx, events, dropped, truncated })
}

/// `sid`: 1 to 128 characters of `[A-Za-z0-9_.:-]`.
pub fn valid_sid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SID_CHARS
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// Why one event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// Stable reason.
    pub reason: DropReason,
    /// The event's `seq` when it was valid.
    pub seq: Option<u64>,
    /// The field at fault, for field-level reasons.
    pub field: Option<&'static str>,
}

struct Fields {
    m: Map<String, Value>,
    seq: Option<u64>,
}

impl Fields {
    fn err(&self, reason: DropReason, field: &'static str) -> EventError {
        EventError { reason, seq: self.seq, field: Some(field) }
    }

    fn opt_str(&mut self, k: &'static str) -> Result<Option<String>, EventError> {
        match self.m.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(DropReason::BadField, k)),
        }
    }

    fn str(&mut self, k: &'static str) -> Result<String, EventError> {
        self.opt_str(k)?.ok_or_else(|| self.err(DropReason::MissingField, k))
    }

    fn sel(&mut self) -> Result<String, EventError> {
        let s = self.str("sel")?;
        if s.len() > MAX_SEL_BYTES {
            return Err(self.err(DropReason::FieldTooLong, "sel"));
        }
        Ok(s)
    }

    fn opt_num(&mut self, k: &'static str) -> Result<Option<f64>, EventError> {
        match self.m.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() => Ok(Some(f)),
                _ => Err(self.err(DropReason::BadField, k)),
            },
            Some(_) => Err(self.err(DropReason::BadField, k)),
        }
    }

    fn num(&mut self, k: &'static str) -> Result<f64, EventError> {
        self.opt_num(k)?.ok_or_else(|| self.err(DropReason::MissingField, k))
    }

    /// A non-negative integer count or duration; durations may come as
    /// fractional ms from `performance.now()` and are rounded.
    fn opt_uint(&mut self, k: &'static str, allow_fraction: bool) -> Result<Option<u64>, EventError> {
        match self.m.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    return Ok(Some(u));
                }
                match n.as_f64() {
                    Some(f) if allow_fraction && (0.0..9.0e15).contains(&f) => {
                        Ok(Some(f.round() as u64))
                    }
                    _ => Err(self.err(DropReason::BadField, k)),
                }
            }
            Some(_) => Err(self.err(DropReason::BadField, k)),
        }
    }

    fn uint(&mut self, k: &'static str, allow_fraction: bool) -> Result<u64, EventError> {
        self.opt_uint(k, allow_fraction)?.ok_or_else(|| self.err(DropReason::MissingField, k))
    }

    fn flag(
        &mut self,
        m: &mut Map<String, Value>,
        k: &'static str,
        path: &'static str,
    ) -> Result<bool, EventError> {
        match m.remove(k) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(b),
            Some(_) => Err(self.err(DropReason::BadField, path)),
        }
    }

    fn element(&mut self) -> Result<Element, EventError> {
        let mut m = match self.m.remove("el") {
            None => return Err(self.err(DropReason::MissingField, "el")),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(self.err(DropReason::BadField, "el")),
        };
        let mut s = |k: &str, path: &'static str| match m.remove(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.err(DropReason::BadField, path)),
        };
        let tag = s("tag", "el.tag")?.map(|t| t.to_ascii_lowercase());
        let r#type = s("type", "el.type")?.map(|t| t.to_ascii_lowercase());
        let href = s("href", "el.href")?;
        let target = s("target", "el.target")?;
        let download = self.flag(&mut m, "download", "el.download")?;
        let editable = self.flag(&mut m, "editable", "el.editable")?;
        let in_link = self.flag(&mut m, "in_link", "el.in_link")?;
        let extra = (!m.is_empty()).then(|| Box::new(m));
        Ok(Element { tag, r#type, href, target, download, editable, in_link, extra })
    }
}

/// Validates one event object (string truncation already applied).
///
/// # Errors
///
/// The event's one [`EventError`] when it cannot be accepted.
pub fn parse_event(mut m: Map<String, Value>) -> Result<Event, EventError> {
    let bare = |reason| EventError { reason, seq: None, field: None };
    let seq = match m.remove("seq") {
        None | Some(Value::Null) => return Err(bare(DropReason::MissingSeq)),
        Some(v) => match v.as_u64() {
            Some(s) if (1..=MAX_SEQ).contains(&s) => s,
            _ => return Err(bare(DropReason::BadSeq)),
        },
    };
    let with_seq = |reason| EventError { reason, seq: Some(seq), field: None };
    let t = match m.remove("t") {
        None | Some(Value::Null) => return Err(with_seq(DropReason::MissingKind)),
        Some(Value::String(t)) if !t.is_empty() => t,
        Some(_) => return Err(with_seq(DropReason::BadKind)),
    };
    let ts = match m.remove("ts") {
        None | Some(Value::Null) => return Err(with_seq(DropReason::MissingTs)),
        Some(v) => match v.as_i64() {
            Some(ts) if (0..=MAX_TS).contains(&ts) => ts,
            _ => return Err(with_seq(DropReason::BadTs)),
        },
    };
    let mut f = Fields { m, seq: Some(seq) };
    let mut url = f.opt_str("url")?;
    let body = match t.as_str() {
        "nav" => {
            let nav = f.str("nav")?;
            let nav = NavType::parse(&nav).ok_or_else(|| f.err(DropReason::BadField, "nav"))?;
            if url.is_none() {
                return Err(f.err(DropReason::MissingField, "url"));
            }
            Body::Nav { nav }
        }
        "click" => {
            let x = f.num("x")?;
            let y = f.num("y")?;
            let sel = f.sel()?;
            let el = f.element()?;
            let txt = f.opt_str("txt")?;
            Body::Click { x, y, sel, el, txt }
        }
        "input" => Body::Input { sel: f.sel()? },
        "submit" => Body::Submit { sel: f.sel()? },
        "select" => Body::Select,
        "scroll" => {
            let y = f.num("y")?;
            let vh = f.opt_num("vh")?;
            Body::Scroll { y, vh }
        }
        "mutation" => Body::Mutation { n: f.uint("n", false)? },
        "move" => {
            let x = f.num("x")?;
            let y = f.num("y")?;
            Body::Move { x, y }
        }
        "error" => {
            let msg = f.str("msg")?;
            let src = f.opt_str("src")?;
            let line = f.opt_uint("line", false)?;
            let col = f.opt_uint("col", false)?;
            let stack = f.opt_str("stack")?;
            let kind = match f.str("kind")?.as_str() {
                "error" => ErrorKind::Error,
                "rejection" => ErrorKind::Rejection,
                _ => return Err(f.err(DropReason::BadField, "kind")),
            };
            Body::Error { msg, src, line, col, stack, kind }
        }
        "net" => {
            let method = f.str("method")?;
            let status = match f.uint("status", false)? {
                s @ 0..=999 => s as u16,
                _ => return Err(f.err(DropReason::BadField, "status")),
            };
            let dur = f.uint("dur", true)?;
            if url.is_none() {
                return Err(f.err(DropReason::MissingField, "url"));
            }
            if dur as i128 > ts as i128 {
                return Err(f.err(DropReason::BadField, "dur"));
            }
            Body::Net { method, status, dur }
        }
        "vis" => {
            let state = match f.str("state")?.as_str() {
                "hidden" => Visibility::Hidden,
                "visible" => Visibility::Visible,
                _ => return Err(f.err(DropReason::BadField, "state")),
            };
            Body::Vis { state }
        }
        "longtask" => Body::LongTask { dur: f.uint("dur", true)? },
        "custom" => {
            let name = f.str("name")?;
            let props = match f.m.remove("props") {
                None | Some(Value::Null) => None,
                Some(p @ Value::Object(_)) => Some(p),
                Some(_) => return Err(f.err(DropReason::BadField, "props")),
            };
            Body::Custom { name, props }
        }
        _ => {
            // Unknown kinds keep every field, `url` included, verbatim.
            if let Some(u) = url.take() {
                f.m.insert("url".into(), Value::String(u));
            }
            Body::Unknown { t }
        }
    };
    let extra = (!f.m.is_empty()).then(|| Box::new(f.m));
    Ok(Event { ts, seq, url, body, extra })
}

/// Truncates every string under `m` longer than `max` bytes at a char
/// boundary, recording the dotted path of each.
fn truncate_map(m: &mut Map<String, Value>, prefix: &str, max: usize, out: &mut Vec<String>) {
    for (k, v) in m.iter_mut() {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        truncate_value(v, path, max, out);
    }
}

fn truncate_value(v: &mut Value, path: String, max: usize, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.len() > max => {
            truncate_utf8(s, max);
            out.push(path);
        }
        Value::Object(m) => truncate_map(m, &path, max, out),
        Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                truncate_value(v, format!("{path}[{i}]"), max, out);
            }
        }
        _ => {}
    }
}

/// Shortens `s` to at most `max` bytes without splitting a character.
pub fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(events: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"v": 1, "sid": "s1", "events": events})).unwrap()
    }

    fn reject(body: &[u8]) -> RejectReason {
        parse_batch(body, &Limits::default()).unwrap_err().reason
    }

    #[test]
    fn envelope_problems_have_one_reason_each() {
        assert_eq!(reject(b"{"), RejectReason::InvalidJson);
        assert_eq!(reject(b"  "), RejectReason::EmptyBody);
        assert_eq!(reject(b"[1]"), RejectReason::NotAnObject);
        assert_eq!(reject(br#"{"sid":"a","events":[]}"#), RejectReason::MissingVersion);
        assert_eq!(reject(br#"{"v":2,"sid":"a","events":[]}"#), RejectReason::UnsupportedVersion);
        assert_eq!(reject(br#"{"v":1,"events":[]}"#), RejectReason::MissingSid);
        assert_eq!(reject(br#"{"v":1,"sid":"a b","events":[]}"#), RejectReason::BadSid);
        assert_eq!(reject(br#"{"v":1,"sid":7,"events":[]}"#), RejectReason::BadSid);
        assert_eq!(reject(br#"{"v":1,"sid":"a","sent_at":-1,"events":[]}"#), RejectReason::BadSentAt);
        assert_eq!(reject(br#"{"v":1,"sid":"a","dropped":"x","events":[]}"#), RejectReason::BadDropped);
        assert_eq!(reject(br#"{"v":1,"sid":"a","ctx":[],"events":[]}"#), RejectReason::BadCtx);
        assert_eq!(reject(br#"{"v":1,"sid":"a"}"#), RejectReason::MissingEvents);
        assert_eq!(reject(br#"{"v":1,"sid":"a","events":{}}"#), RejectReason::BadEvents);
        assert_eq!(reject(b"{\"v\":1,\"sid\":\"a\xff\",\"events\":[]}"), RejectReason::InvalidJson);
        let long_sid = "a".repeat(129);
        assert_eq!(
            reject(format!(r#"{{"v":1,"sid":"{long_sid}","events":[]}}"#).as_bytes()),
            RejectReason::BadSid
        );
    }

    #[test]
    fn too_many_events_is_refused_whole() {
        let events: Vec<Value> = (1..=2001).map(|i| json!({"t":"select","ts":1,"seq":i})).collect();
        assert_eq!(reject(&batch(Value::Array(events))), RejectReason::TooManyEvents);
    }

    #[test]
    fn bad_events_are_dropped_one_reason_each_and_the_rest_accepted() {
        let b = parse_batch(
            &batch(json!([
                {"t":"nav","ts":1,"seq":1,"url":"https://a/","nav":"load"},
                {"t":"click","ts":2,"seq":-3,"x":1,"y":1,"sel":"b","el":{}},
                {"t":"click","ts":2,"seq":3,"x":"1","y":1,"sel":"b","el":{}},
                {"t":"nav","ts":2,"seq":4,"nav":"load"},
                {"ts":2,"seq":5},
                {"t":"scroll","ts":1e20,"seq":6,"y":1},
                7,
                {"t":"click","ts":2,"seq":8,"x":1,"y":1,"sel":"b","el":{"download":"yes"}},
                {"t":"future_kind","ts":2,"seq":9,"whatever":[1,2]},
                {"t":"click","ts":2,"seq":10,"x":1,"y":1,"sel":"b".repeat(513),"el":{}},
            ])),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(b.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 9]);
        let got: Vec<(usize, &str, Option<&str>)> =
            b.dropped.iter().map(|d| (d.index, d.reason.as_str(), d.field.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                (1, "bad_seq", None),
                (2, "bad_field", Some("x")),
                (3, "missing_field", Some("url")),
                (4, "missing_kind", None),
                (5, "bad_ts", None),
                (6, "event_not_object", None),
                (7, "bad_field", Some("el.download")),
                (9, "field_too_long", Some("sel")),
            ]
        );
    }

    #[test]
    fn unknown_kinds_and_fields_round_trip_verbatim() {
        let b = parse_batch(
            &batch(json!([
                {"t":"future_kind","ts":2,"seq":1,"url":"https://a/","deep":{"k":[1,"x"]}},
                {"t":"click","ts":3,"seq":2,"x":1.5,"y":2,"sel":"button#go","el":{"tag":"BUTTON","shape":"round"},"new_field":true},
            ])),
            &Limits::default(),
        )
        .unwrap();
        let out: Vec<Value> =
            b.events.iter().map(|e| serde_json::from_slice(&e.to_json()).unwrap()).collect();
        assert_eq!(out[0], json!({"t":"future_kind","ts":2,"seq":1,"url":"https://a/","deep":{"k":[1,"x"]}}));
        assert_eq!(
            out[1],
            json!({"t":"click","ts":3,"seq":2,"x":1.5,"y":2.0,"sel":"button#go","el":{"tag":"button","shape":"round"},"new_field":true})
        );
        // Re-validating the stored form gives the same event.
        let again = parse_event(out[1].as_object().unwrap().clone()).unwrap();
        assert_eq!(again, b.events[1]);
    }

    #[test]
    fn long_strings_are_truncated_on_a_char_boundary_and_reported() {
        let msg = "é".repeat(5000); // 10,000 bytes
        let b = parse_batch(
            &serde_json::to_vec(&json!({"v":1,"sid":"s","ctx":{"ua":"u".repeat(9000)},"events":[
                {"t":"error","ts":1,"seq":1,"msg":msg,"kind":"error"}
            ]}))
            .unwrap(),
            &Limits::default(),
        )
        .unwrap();
        let Body::Error { msg, .. } = &b.events[0].body else { panic!("not an error") };
        assert_eq!(msg.len(), 8192);
        assert!(msg.chars().all(|c| c == 'é'));
        assert_eq!(
            b.truncated,
            vec![
                Truncated { index: None, field: "ctx.ua".into() },
                Truncated { index: Some(0), field: "msg".into() }
            ]
        );
    }

    #[test]
    fn text_like_and_navigating_elements() {
        let el = |tag: &str, ty: Option<&str>| Element {
            tag: Some(tag.into()),
            r#type: ty.map(Into::into),
            ..Element::default()
        };
        assert!(el("input", None).is_text_like());
        assert!(el("input", Some("email")).is_text_like());
        assert!(!el("input", Some("submit")).is_text_like());
        assert!(el("textarea", None).is_text_like());
        assert!(!el("button", None).is_text_like());
        let mut a = el("a", None);
        a.href = Some("/x".into());
        assert!(!a.navigates_away());
        a.target = Some("_blank".into());
        assert!(a.navigates_away());
        a.target = Some("_self".into());
        assert!(!a.navigates_away());
    }
}
